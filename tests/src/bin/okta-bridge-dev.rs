//! `make dev`: the whole system on this machine. Provisions the local emulator from template.yaml,
//! seeds tenant `demo`, serves every HTTP function on one port with API Gateway's routing, drives
//! the worker from SQS and the nightly sync on its schedule, and prints what a person needs.
use std::collections::HashMap;

use harness::okta_sim::{DeliverOptions, HookTarget, OktaSim};
use harness::template::Template;
use harness::{dispatch::Dispatcher, Functions, LocalStack, StackOptions};
use shared::app::secrets::TenantSecret;
use shared::domain::api_token::TokenKind;
use shared::domain::tenant::TenantConfigInput;
use shared::domain::TenantId;
use tokio::sync::watch;

type Error = Box<dyn std::error::Error + Send + Sync>;

const DEMO_APP_ID: &str = "0oademolearning";

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let sdk = shared::adapters::aws::sdk_config().await;

    let mut opts = StackOptions::new(std::env::var("OKTA_BRIDGE_STAGE").unwrap_or_else(|_| "dev".into()));
    opts.public_api_url = format!("http://127.0.0.1:{port}");
    if let Ok(token) = std::env::var("OKTA_BRIDGE_ADMIN_TOKEN") {
        if !token.is_empty() {
            opts.secret_values.insert("AdminTokenSecret".into(), token);
        }
    }
    let stack = LocalStack::provision(&sdk, opts).await?;
    let functions = Functions::wire(&sdk, &stack.env)?;

    // Tenant `demo`'s Okta org: the project's simulator, delivering hooks as changes happen.
    let sim_port: u16 = std::env::var("OKTA_SIM_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9010);
    let sim_token = format!("00sim{}", harness::stack::generate(36));
    let sim = OktaSim::start(sim_port, &sim_token, DEMO_APP_ID).await?;
    let extra: usize = std::env::var("DEMO_EXTRA_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    let people = harness::demo_org::seed(&sim) + harness::demo_org::seed_extra(&sim, extra);
    let mut demo = seed_demo(&functions, &sim, &sim_token, port).await?;
    // The demo org's sign-in: a real OpenID provider whose accounts are the demo org's people.
    let oidc_port: u16 = std::env::var("OIDC_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9011);
    let _provider = match start_demo_provider(&functions, &sim, port, oidc_port).await {
        Ok((provider, example)) => {
            demo.sso_example = Some(example);
            Some(provider)
        }
        Err(e) => {
            eprintln!("warning: the demo OpenID provider did not start ({e}); SSO is off in make dev");
            None
        }
    };

    // Tenant `demo-scim`'s sign-in: a real SAML IdP (samlp) whose people are the demo org's.
    let saml_port: u16 = std::env::var("SAML_IDP_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9012);
    let _saml_idp = match start_demo_saml(&functions, &sim, &demo.scim_tenant, saml_port).await {
        Ok((idp, example)) => {
            demo.saml_example = Some(example);
            Some(idp)
        }
        Err(e) => {
            eprintln!("warning: the demo SAML IdP did not start ({e}); SAML sign-in is off in make dev");
            None
        }
    };

    let template = Template::load(&harness::template::default_path())?;
    let app = Dispatcher::new(&template, functions.routers())?.into_router();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let (stop_tx, stop_rx) = watch::channel(false);

    let queue_url = stack.env("USER_FETCH_QUEUE_URL").to_owned();
    let queue_arn = stack.bindings.attrs.get("UserFetchQueue.Arn").cloned().unwrap_or_default();
    let poller = tokio::spawn(harness::poller::run(
        functions.adapters.sqs.clone(),
        queue_url.clone(),
        queue_arn,
        harness::poller::Target::Worker(functions.worker.clone()),
        stop_rx.clone(),
    ));
    // The sync queue drives the nightly-sync function (starts and continuations of runs).
    let sync_poller = tokio::spawn(harness::poller::run(
        functions.adapters.sqs.clone(),
        stack.env("SYNC_QUEUE_URL").to_owned(),
        stack.bindings.attrs.get("SyncQueue.Arn").cloned().unwrap_or_default(),
        harness::poller::Target::Sync(functions.sync.clone()),
        stop_rx.clone(),
    ));
    let (hour, minute) = template
        .schedule_of("NightlySyncFunction")
        .and_then(|c| harness::schedule::parse_daily_cron(&c))
        .ok_or("template.yaml: NightlySyncFunction needs a daily cron(M H * * ? *) schedule")?;
    let scheduler = tokio::spawn(harness::schedule::run(functions.sync.clone(), hour, minute, stop_rx.clone()));

    banner(port, &stack, &demo, &queue_url, hour, minute, &sim.base_url, people);
    // The org's users were assigned before okta-bridge was listening: deliver those hooks now.
    let first_delivery = sim.clone();
    tokio::spawn(async move {
        let statuses = first_delivery.deliver(DeliverOptions::default()).await;
        tracing::info!(deliveries = statuses.len(), "demo org: initial event hooks delivered");
        first_delivery.set_auto_deliver(true);
    });
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.changed().await;
            })
            .await
    });
    tokio::signal::ctrl_c().await?;
    println!("\nStopping okta-bridge dev ...");
    let _ = stop_tx.send(true);
    server.await??;
    let _ = tokio::join!(poller, sync_poller, scheduler);
    println!("okta-bridge dev stopped.");
    Ok(())
}

struct Demo {
    /// A demo person to sign in as (their Okta id and email), when SSO is on.
    sso_example: Option<(String, String)>,
    /// `demo-scim`'s SAML login URL and a demo person's email to type at the IdP, when it runs.
    saml_example: Option<(String, String)>,
    tenant: TenantId,
    hook_secret: Option<String>,
    scim_token: Option<String>,
    admin_secret_id: String,
    /// Tenant `demo-scim`: provisioned by SCIM (a client's token, issued fresh each run).
    scim_tenant: TenantId,
    scim_tenant_token: String,
    /// A tenant admin token for `demo`'s integration page.
    ui_token: String,
    /// The demo org's API token (what its Okta admin would create for a new tenant).
    sim_token: String,
}

async fn seed_demo(f: &Functions, sim: &OktaSim, sim_token: &str, port: u16) -> Result<Demo, Error> {
    let tenant = TenantId::parse("demo")?;
    let admin = &f.admin.admin;
    let input: TenantConfigInput = serde_json::from_value(serde_json::json!({
        "okta_domain": sim.base_url, "client_id": "0oademoclient", "app_id": DEMO_APP_ID,
        "sso_enabled": true, "provisioning": "event_hooks", "manager_mode": "individual",
        "field_mappings": [{"okta": "costCenter", "field": "cost_center"}]
    }))?;
    admin.put_tenant(&tenant, input).await?;
    let secrets = &f.adapters.root.secrets;
    secrets.set(&tenant, TenantSecret::OktaApiToken, shared::domain::Secret::new(sim_token)).await?;
    // A fresh event-hook secret each run, given to the simulator as an Okta admin would.
    let hook_secret = secrets.rotate_event_hook_secret(&tenant).await?;
    secrets.revoke_previous(&tenant, TenantSecret::EventHookSecret).await?;
    // The org's Okta admin has created and verified the hook, and set up the app (redirect URIs,
    // client id), so the integration page's Connect to Okta passes.
    sim.add_verified_hook(HookTarget {
        url: format!("http://127.0.0.1:{port}/t/demo/webhooks/okta"),
        header: "Authorization".into(),
        secret: hook_secret.expose().to_owned(),
    });
    let urls = f.admin.urls.setup_urls(&tenant);
    sim.configure_app(&serde_json::json!({"redirect_uris": urls.oidc_redirect_uris, "client_id": "0oademoclient"}));
    // A tenant admin token for the integration page, fresh each run (earlier ones revoked).
    for old in tokens_of(f, &tenant).await? {
        f.adapters.root.tokens.revoke(&tenant, TokenKind::Admin, &old).await?;
    }
    let ui_token = f.adapters.root.tokens.issue(&tenant, TokenKind::Admin).await?.1.expose().to_owned();
    let tokens = &f.adapters.root.tokens;
    let scim_token = if tokens.active_count(&tenant, TokenKind::Scim).await? == 0 {
        Some(tokens.issue(&tenant, TokenKind::Scim).await?.1.expose().to_owned())
    } else {
        None
    };
    let admin_secret_id = f.adapters.root.secrets.names().admin_token.clone();
    // A second tenant whose users arrive by SCIM, as a new customer's would.
    let scim_tenant = TenantId::parse("demo-scim")?;
    let input: TenantConfigInput = serde_json::from_value(serde_json::json!({
        "okta_domain": "https://demo-scim.okta.com", "provisioning": "scim", "manager_mode": "individual"
    }))?;
    admin.put_tenant(&scim_tenant, input).await?;
    let scim_tenant_token = tokens.issue(&scim_tenant, TokenKind::Scim).await?.1.expose().to_owned();
    Ok(Demo {
        sso_example: None,
        saml_example: None,
        tenant,
        hook_secret: Some(hook_secret.expose().to_owned()),
        scim_token,
        admin_secret_id,
        scim_tenant,
        scim_tenant_token,
        ui_token,
        sim_token: sim_token.to_owned(),
    })
}

/// The active tenant admin tokens' ids.
async fn tokens_of(f: &Functions, tenant: &TenantId) -> Result<Vec<String>, Error> {
    let listed = f.adapters.root.tokens.list(tenant, TokenKind::Admin).await?;
    Ok(listed.into_iter().filter(|t| t.active).map(|t| t.id).collect())
}

/// Starts the OpenID provider with the demo org's people as accounts and points tenant `demo`'s
/// SSO at it (issuer, client id and secret). Returns it and a person to sign in as.
async fn start_demo_provider(
    f: &Functions,
    sim: &OktaSim,
    port: u16,
    oidc_port: u16,
) -> Result<(harness::oidc_op::OpenIdProvider, (String, String)), Error> {
    let mut accounts = serde_json::Map::new();
    for u in sim.users() {
        let p = &u["profile"];
        accounts.insert(
            u["id"].as_str().unwrap_or_default().to_owned(),
            serde_json::json!({"email": p["email"], "email_verified": true, "given_name": p["firstName"],
                "family_name": p["lastName"], "locale": p["locale"], "preferred_username": p["login"]}),
        );
    }
    let example = accounts
        .iter()
        .next()
        .map(|(id, c)| (id.clone(), c["email"].as_str().unwrap_or_default().to_owned()))
        .ok_or("the demo org has no people")?;
    let secret = format!("demo-oidc-{}", harness::stack::generate(32));
    let mut redirects = Vec::new();
    let mut logouts = Vec::new();
    for base in [format!("http://127.0.0.1:{port}/t/demo"), format!("http://demo.localhost:{port}")] {
        for path in ["/okta/auth_callback", "/en/okta/auth_callback", "/users/auth/okta/callback"] {
            redirects.push(format!("{base}{path}"));
        }
        logouts.push(format!("{base}/"));
    }
    let clients = serde_json::json!([{"client_id": "0oademoclient", "client_secret": secret,
        "redirect_uris": redirects, "post_logout_redirect_uris": logouts}]);
    // The org authorization server, as Okta's: its issuer is the org's own URL (the simulator's),
    // which forwards the provider's endpoints to it; the tenant's issuer stays the org's.
    let provider = harness::oidc_op::OpenIdProvider::start_as(
        oidc_port,
        Some(sim.base_url.clone()),
        clients,
        serde_json::Value::Object(accounts),
        3600,
    )
    .await?;
    sim.set_oidc_upstream(&provider.front);
    let tenant = TenantId::parse("demo")?;
    f.adapters.root.secrets.set(&tenant, TenantSecret::OidcClientSecret, shared::domain::Secret::new(secret)).await?;
    Ok((provider, example))
}

/// Starts the SAML IdP with the demo org's people, registers tenant `scim_tenant` with it (the
/// entity id and ACS URL its admin view shows), points the tenant's SSO at it (SAML, the IdP's
/// metadata URL), and provisions those people into the tenant by SCIM, as Okta's SCIM client does
/// when they are assigned to the app. Returns it, the login URL and a person to sign in as.
async fn start_demo_saml(
    f: &Functions,
    sim: &OktaSim,
    tenant: &TenantId,
    saml_port: u16,
) -> Result<(harness::saml_idp::SamlIdp, (String, String)), Error> {
    let idp = harness::saml_idp::SamlIdp::start_on(saml_port).await?;
    let people: Vec<serde_json::Value> = sim
        .users()
        .iter()
        .map(|u| {
            let p = &u["profile"];
            serde_json::json!({"email": p["email"], "firstName": p["firstName"], "lastName": p["lastName"], "oktaId": u["id"]})
        })
        .collect();
    let example = people.first().and_then(|p| p["email"].as_str()).ok_or("the demo org has no people")?.to_owned();
    idp.people(serde_json::Value::Array(people.clone())).await;
    let base = f.admin.urls.tenant_base("/", tenant);
    idp.register_sp(&format!("{base}/saml/metadata"), &format!("{base}/saml/acs")).await;

    let mut config = serde_json::to_value(f.admin.admin.get_tenant(tenant).await?.config)?;
    for read_only in ["tenant", "created_at", "updated_at", "version"] {
        config.as_object_mut().map(|c| c.remove(read_only));
    }
    config["sso_enabled"] = serde_json::json!(true);
    config["sso_protocol"] = serde_json::json!("saml");
    config["saml_idp_metadata_url"] = serde_json::json!(idp.metadata_url());
    f.admin.admin.put_tenant(tenant, serde_json::from_value(config)?).await?;

    let scim_base = f.scim.urls.tenant_base("/", tenant) + "/scim/v2";
    for p in &people {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": p["email"], "externalId": p["oktaId"], "active": true,
            "name": {"givenName": p["firstName"], "familyName": p["lastName"]},
            "emails": [{"primary": true, "value": p["email"], "type": "work"}],
        });
        match f.scim.scim.create_user(tenant, &body, &scim_base).await {
            Ok(_) => {}
            // Already there (the emulator kept an earlier run's table).
            Err(shared::app::scim::ScimFailure::Uniqueness(_)) => {}
            Err(e) => return Err(format!("provisioning {} by SCIM: {e:?}", p["email"]).into()),
        }
    }
    Ok((idp, (format!("{base}/saml/login?return_to=/okta/me"), example)))
}

#[allow(clippy::too_many_arguments)]
fn banner(
    port: u16,
    stack: &LocalStack,
    demo: &Demo,
    queue_url: &str,
    hour: u32,
    minute: u32,
    okta: &str,
    people: usize,
) {
    let base = format!("http://127.0.0.1:{port}");
    let admin_token = stack.secret_values.get("AdminTokenSecret").cloned().unwrap_or_default();
    let shown = |v: &Option<String>, what: &str| {
        v.clone().unwrap_or_else(|| format!("(already issued earlier; rotate with {what})"))
    };
    let t = &demo.tenant;
    let env: HashMap<&str, &str> = [("table", stack.env("TABLE_NAME")), ("queue", queue_url)].into_iter().collect();
    println!(
        r#"
================================================================================
 okta-bridge dev is up                                    Ctrl-C stops everything
================================================================================
 Integration page (Settings › Integrations › Okta) for tenant `{t}`, in a browser:
   open        {base}/admin/ui/
   sign in     {ui_token}
               (a tenant admin token of `{t}`; or the operator token below and a tenant name,
                which also creates a new tenant, e.g. `acme` against the demo Okta org {okta})

 Admin API     {base}/admin/tenants/{t}
   token       {admin_token}
   (secret id  {admin_secret})
   try         curl -H "Authorization: Bearer {admin_token}" {base}/admin/tenants/{t}
   health      curl -H "Authorization: Bearer {admin_token}" {base}/admin/tenants/{t}/health
   status page curl -H "Authorization: Bearer {admin_token}" {base}/admin/tenants/{t}/status > status.html
   Sync users  curl -X POST -H "Authorization: Bearer {admin_token}" {base}/admin/tenants/{t}/sync
   its runs    curl -H "Authorization: Bearer {admin_token}" {base}/admin/tenants/{t}/sync-runs
   changes     curl -H "Authorization: Bearer {admin_token}" "{base}/admin/tenants/{t}/changes?after=0"
   OpenAPI     {base}/admin/openapi.json

 Tenant `{t}` (also at http://{t}.localhost:{port}/...)
   Event hook  {base}/t/{t}/webhooks/okta
     header    Authorization: {hook}
   SCIM base   {base}/t/{t}/scim/v2   (discovery only: `{t}` provisions by event hooks)
     token     {scim}
   SSO login   {sso}

 Tenant `{st}`: provisioned by SCIM (Okta's or Entra's SCIM client, or curl)
   SCIM base   {base}/t/{st}/scim/v2
     token     {st_token}
   try         curl -H "Authorization: Bearer {st_token}" {base}/t/{st}/scim/v2/Users
   a whole run ADMIN_TOKEN={admin_token} scripts/scim-demo.sh   (create, find, deactivate, reactivate, push a group)
   SAML login  {saml}

 Demo Okta org {okta}  (the project's Okta simulator, {people} people)
   API token   {sim_token}   app id {app_id}   (for a new tenant set up from the page)
   add a redirect URI to the app, as in Okta's app settings (what the page says to paste):
               curl -X POST -H 'Content-Type: application/json' -d '{{"add_redirect_uris": ["http://acme.localhost:{port}/okta/auth_callback"]}}' {okta}/sim/app
   users       curl {okta}/sim/users
   change one  curl -X PATCH -H 'Content-Type: application/json' -d '{{"title": "Principal Engineer"}}' {okta}/sim/users/<id>
   lifecycle   curl -X POST {okta}/sim/users/<id>/deactivate   (reactivate, suspend, unsuspend, assign, unassign; ?silent=true loses its hooks)
   a joiner    curl -X POST -H 'Content-Type: application/json' -d '{{"firstName": "Jo", "lastName": "Iner", "email": "jo@demo.example"}}' "{okta}/sim/users?id=00u00000000000000001"
               (an id that sorts before everyone a running sync has listed; DEMO_EXTRA_USERS=3000 make dev for a bigger org)
   then see    curl -H "Authorization: Bearer {admin_token}" "{base}/admin/tenants/{t}/users?okta_id=<id>"

 Worker        polling {queue} (batches of 10, partial failures, DLQ after 5 receives)
 Nightly sync  daily at {hour:02}:{minute:02} UTC; DynamoDB table {table}
 AWS emulator  {endpoint}
================================================================================
"#,
        admin_secret = demo.admin_secret_id,
        ui_token = demo.ui_token,
        sim_token = demo.sim_token,
        app_id = DEMO_APP_ID,
        st = demo.scim_tenant,
        st_token = demo.scim_tenant_token,
        hook = shown(&demo.hook_secret, "POST /admin/tenants/demo/event-hook-secret"),
        scim = shown(&demo.scim_token, "POST /admin/tenants/demo/scim-tokens"),
        sso = match &demo.sso_example {
            Some((id, email)) => format!(
                "{base}/t/{t}/okta/login?return_to=/okta/me\n               (the demo provider's login form: type a demo person's Okta id, e.g. {id} for {email}, any password)"
            ),
            None => "off: Node.js and tests/oidc-provider are needed (scripts/oidc-provider.sh)".into(),
        },
        saml = match &demo.saml_example {
            Some((login, email)) => format!(
                "{login}\n               (the demo SAML IdP's login form: type a demo person's email, e.g. {email};\n                the demo people are provisioned here by SCIM, as Okta would on assignment)"
            ),
            None => "off: Node.js and tests/saml-idp are needed (scripts/saml-idp.sh)".into(),
        },
        queue = env["queue"],
        table = env["table"],
        endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "(AWS default endpoints)".into()),
    );
}
