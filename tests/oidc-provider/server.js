// The end-to-end tests' OpenID provider: panva/oidc-provider (OpenID Certified), configured like an
// Okta org authorization server for a web app: code flow, PKCE S256 required, client_secret_basic,
// a thin ID token (profile claims only from /userinfo), RP-initiated logout.
//
// Environment: PORT (listen), ISSUER (may be a proxy in front of this process), CLIENTS (JSON array of
// {client_id, client_secret, redirect_uris, post_logout_redirect_uris}) and ACCOUNTS (JSON object:
// login → claims) and ID_TOKEN_TTL (seconds). Each start signs with a new RSA key (a new `kid`). The login typed in the (development) login form is the account's `sub`.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER;
const clients = JSON.parse(process.env.CLIENTS || '[]').map((c) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...c,
}));
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
// A signing key of its own per start, with a fresh `kid`: a restart is a key rotation.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'locale', 'preferred_username'],
  },
  // Okta's code-flow ID token is thin: names and locale come from /userinfo.
  conformIdTokenClaims: true,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['okta-bridge-test-cookie-key'] },
  jwks: { keys: [signingKey] },
  ttl: { AccessToken: 600, AuthorizationCode: 300, IdToken: Number(process.env.ID_TOKEN_TTL || 600), Interaction: 600, Session: 600, Grant: 600 },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // A first-party web app: no consent screen (as with an Okta app assignment).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = true;
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
