// The SAML tests' (and `make dev`'s) identity provider: Auth0's samlp (the IdP side of SAML 2.0,
// signing with xml-crypto: RSA-SHA256, exclusive c14n, an enveloped `ds:Signature` after the
// Issuer) shaped like an Okta SAML app: HTTP-Redirect AuthnRequests in, HTTP-POST responses out,
// NameID in the emailAddress format, attribute statements email / firstName / lastName /
// oktaUserId, and metadata publishing its signing certificates (two during a rollover).
//
// Environment: PORT (0 = any free port; the first line printed is `listening on {base}`), BASE
// (the public base URL if not http://127.0.0.1:{port}), SPS and PEOPLE (JSON, as /control/sps and
// /control/people take them). The /control API steers it from tests: see README.md.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');
const moment = require('moment');
const samlp = require('samlp');

const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const KEYS = Object.fromEntries(
  ['current', 'next', 'attacker'].map((name) => [
    name,
    {
      key: fs.readFileSync(path.join(__dirname, 'keys', `${name}.key`)),
      cert: fs.readFileSync(path.join(__dirname, 'keys', `${name}.crt`)),
    },
  ]),
);

const state = {
  base: '',
  sps: new Map(), // SP entity id → ACS URL
  people: [], // [{email, firstName, lastName, oktaId}]
  next: {}, // what the next response gets wrong (consumed by it)
  published: ['current'],
  last: null,
};
for (const sp of JSON.parse(process.env.SPS || '[]')) state.sps.set(sp.entity_id, sp.acs_url);
state.people = JSON.parse(process.env.PEOPLE || '[]');

const entityId = () => `${state.base}/metadata`;

function escape(s) {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
    `<body><h1>${escape(title)}</h1>${body}</body></html>`);
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value === undefined ? null : value));
}

function pem(cert) {
  return cert.toString().replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

function metadata() {
  const keys = state.published
    .map((name) => `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">` +
      `<ds:X509Data><ds:X509Certificate>${pem(KEYS[name].cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${escape(entityId())}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    keys +
    `<md:NameIDFormat>${EMAIL_FORMAT}</md:NameIDFormat>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escape(state.base)}/sso"/>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escape(state.base)}/sso"/>` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`;
}

// Okta's attribute statements for the app: email, firstName, lastName, oktaUserId.
function oktaProfile(person) {
  return {
    getClaims: () => ({
      email: person.email,
      firstName: person.firstName,
      lastName: person.lastName,
      oktaUserId: person.oktaId,
    }),
    getNameIdentifier: () => ({ nameIdentifier: person.email, nameIdentifierFormat: EMAIL_FORMAT }),
  };
}

// Signs a response for `person` to the SP, with what /control/next asked to get wrong.
async function issue(sp, acs, person, inResponseTo) {
  const wrong = state.next;
  state.next = {};
  const signing = KEYS[wrong.key || 'current'];
  if (!signing) throw new Error(`no key ${wrong.key}`);
  const sign = wrong.sign || 'assertion';
  const options = {
    issuer: wrong.issuer || entityId(),
    key: signing.key,
    cert: signing.cert,
    audience: wrong.audience || sp,
    recipient: wrong.recipient || acs,
    destination: wrong.destination || acs,
    inResponseTo: wrong.in_response_to || inResponseTo,
    lifetimeInSeconds: wrong.lifetime_seconds || 300,
    signAssertion: sign === 'assertion' || sign === 'both',
    signResponse: sign === 'response' || sign === 'both',
    samlStatusCode: wrong.status,
    signatureAlgorithm: 'rsa-sha256',
    digestAlgorithm: 'sha256',
    signatureNamespacePrefix: 'ds',
    typedAttributes: true,
    includeAttributeNameFormat: true,
    sessionIndex: `_${crypto.randomUUID()}`,
    authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
    profileMapper: oktaProfile,
  };
  // "Not yet valid": the IdP's clock runs ahead (moment.now is moment's documented clock hook;
  // requests are handled one at a time here, so no other response sees the shifted clock).
  const clock = moment.now;
  const ahead = (wrong.not_before_offset_seconds || 0) * 1000;
  moment.now = () => Date.now() + ahead;
  return new Promise((resolve, reject) => {
    samlp.getSamlResponse(options, person, (err, xml) => {
      moment.now = clock;
      if (err || !xml) reject(err || new Error('samlp answered nothing'));
      else resolve(xml);
    });
  });
}

// The auto-posting form an IdP answers with (HTTP-POST binding).
function answer(res, acs, xml, relayState) {
  const encoded = Buffer.from(xml).toString('base64');
  state.last = { saml_response: encoded, relay_state: relayState || null, acs_url: acs, xml };
  const relay = relayState ? `<input type="hidden" name="RelayState" value="${escape(relayState)}">` : '';
  page(res, 200, 'Signing you in',
    `<form method="post" action="${escape(acs)}">` +
    `<input type="hidden" name="SAMLResponse" value="${escape(encoded)}">${relay}` +
    `<button type="submit">Continue</button></form>` +
    `<script>document.forms[0].submit();</script>`);
}

function findPerson(email) {
  const wanted = String(email || '').trim().toLowerCase();
  return state.people.find((p) => p.email.toLowerCase() === wanted);
}

// The AuthnRequest (HTTP-Redirect: deflated, base64) → {sp, id, acs}, or a refusal page's
// {status, title, text}.
function readRequest(samlRequest) {
  if (!samlRequest) return Promise.resolve({ status: 400, title: 'No SAML request', text: 'This page needs a SAMLRequest.' });
  return new Promise((resolve) => {
    samlp.parseRequest({ query: { SAMLRequest: samlRequest }, body: {} }, (err, data) => {
      if (err || !data) return resolve({ status: 400, title: 'Bad SAML request', text: err ? err.message : 'unreadable' });
      const acs = state.sps.get(data.issuer);
      if (!acs) return resolve({ status: 400, title: 'Unknown app', text: `No app has the entity id ${data.issuer}.` });
      if (data.assertionConsumerServiceURL && data.assertionConsumerServiceURL !== acs) {
        return resolve({ status: 400, title: 'Wrong ACS URL', text: `${data.assertionConsumerServiceURL} is not this app's ACS URL.` });
      }
      resolve({ sp: data.issuer, id: data.id, acs });
    });
  });
}

function refuse(res, r) {
  page(res, r.status, r.title, `<p>${escape(r.text)}</p>`);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

async function route(req, res) {
  const url = new URL(req.url, state.base);
  const q = url.searchParams;
  const at = `${req.method} ${url.pathname}`;
  if (at === 'GET /metadata') {
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
    return res.end(metadata());
  }
  if (at === 'GET /sso') {
    const request = await readRequest(q.get('SAMLRequest'));
    if (request.status) return refuse(res, request);
    const relay = q.get('RelayState');
    return page(res, 200, 'Sign in to the test IdP',
      `<p>Signing in to ${escape(request.sp)}.</p>` +
      `<form method="post" action="/sso/login">` +
      `<input type="hidden" name="SAMLRequest" value="${escape(q.get('SAMLRequest'))}">` +
      (relay !== null ? `<input type="hidden" name="RelayState" value="${escape(relay)}">` : '') +
      `<label>Email <input type="email" name="email" value="" autofocus></label>` +
      `<button type="submit">Sign in</button></form>`);
  }
  if (at === 'POST /sso/login') {
    const form = new URLSearchParams(await readBody(req));
    const request = await readRequest(form.get('SAMLRequest'));
    if (request.status) return refuse(res, request);
    const person = findPerson(form.get('email'));
    if (!person) return refuse(res, { status: 401, title: 'Unknown person', text: 'No one here has that email.' });
    return answer(res, request.acs, await issue(request.sp, request.acs, person, request.id), form.get('RelayState'));
  }
  if (at === 'GET /idp-init') {
    const sp = q.get('sp');
    const acs = state.sps.get(sp);
    if (!acs) return refuse(res, { status: 400, title: 'Unknown app', text: `No app has the entity id ${sp}.` });
    const person = findPerson(q.get('email'));
    if (!person) return refuse(res, { status: 401, title: 'Unknown person', text: 'No one here has that email.' });
    return answer(res, acs, await issue(sp, acs, person, undefined), q.get('relay_state'));
  }
  if (at === 'GET /control/last') return json(res, 200, state.last);
  if (req.method === 'POST' && url.pathname.startsWith('/control/')) {
    const body = JSON.parse((await readBody(req)) || 'null');
    switch (url.pathname) {
      case '/control/sps':
        state.sps.set(body.entity_id, body.acs_url);
        return json(res, 200, { entity_id: body.entity_id, acs_url: body.acs_url });
      case '/control/people':
        state.people = body;
        return json(res, 200, { people: state.people.length });
      case '/control/next':
        state.next = body || {};
        return json(res, 200, state.next);
      case '/control/publish':
        if (!Array.isArray(body.certs) || !body.certs.every((c) => KEYS[c])) return json(res, 400, { error: 'certs' });
        state.published = body.certs;
        return json(res, 200, { certs: state.published });
      default:
        break;
    }
  }
  return page(res, 404, 'Not found', '');
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    if (!res.headersSent) json(res, 500, { error: String(err && err.message) });
    else res.end();
  });
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  state.base = process.env.BASE || `http://127.0.0.1:${server.address().port}`;
  console.log(`listening on ${state.base}`);
});
