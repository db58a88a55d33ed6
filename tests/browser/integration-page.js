// A new admin sets up a tenant from the integration page alone, in a real headless Chromium
// (puppeteer-core driving Debian's chromium, $CHROMIUM), against the project's Okta simulator:
// signs in with the operator token and creates the tenant, fills the org, sign-in and event-hook
// settings (pasting into the simulated Okta what the page says to paste), registers the event
// hook, runs Connect to Okta (all green, then one red for a wrong app id), syncs with the progress
// bar moving, previews a change, approves a held run, invites a person, is refused a forged form,
// and signs out. axe-core checks every page (WCAG 2.1 A and AA); a screenshot of each step goes
// to SHOTS. Prints one JSON object with what it saw; the Rust test asserts on it.
//
//   node integration-page.js '{"base", "sim", "operator_token", "tenant", "api_token", "app_id",
//                              "client_id", "client_secret", "shots", "unassign": [ids], "edit": id}'
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const puppeteer = require('puppeteer-core');
const axe = require('axe-core');
const { launch } = require('./chromium.js');


const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function sim(cfg, method, p, body) {
  const r = await fetch(cfg.sim + p, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${p} → ${r.status}`);
  return r.json();
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  fs.mkdirSync(cfg.shots, { recursive: true });
  const out = { steps: [], axe: {}, csp_violations: [], console_errors: [] };
  const browser = await launch(puppeteer);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    page.on('console', (m) => {
      const t = m.text();
      if (/Content Security Policy/i.test(t)) out.csp_violations.push(t);
      // The refusals this walk-through provokes on purpose (401, 400, 403 pages) are not errors.
      else if (m.type() === 'error' && !/status of (400|401|403) /.test(t)) out.console_errors.push(t);
    });
    page.setDefaultTimeout(30000);
    const step = (name, data) => out.steps.push(Object.assign({ name, path: new URL(page.url()).pathname }, data || {}));
    const shot = async (name) => page.screenshot({ path: path.join(cfg.shots, `${name}.png`), fullPage: true });
    const text = () => page.evaluate(() => document.body.innerText);
    const audit = async (name) => {
      await page.evaluate(axe.source);
      const r = await page.evaluate(() =>
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      out.axe[name] = r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
    };
    const submit = async (form, button) => {
      const sel = button ? `${form} button[type=submit]:nth-of-type(1)` : `${form} button[type=submit]`;
      const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(sel)]);
      return response ? response.status() : 0;
    };
    const fill = async (sel, value) => {
      await page.$eval(sel, (e) => { e.value = ''; });
      await page.type(sel, value);
    };
    const copied = (id) => page.$eval(id, (e) => e.value);
    const checks = () => page.$$eval('#checks li', (lis) => lis.map((li) => ({ id: li.dataset.check, outcome: li.className, text: li.innerText })));

    // Sign in: the operator token and a tenant that does not exist yet, then its Okta domain.
    const first = await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    step('open', { status: first.status() });
    await audit('sign-in');
    await shot('01-sign-in');
    await page.type('#f-token', cfg.operator_token);
    await page.type('#f-tenant', cfg.tenant);
    let status = await submit('form[action="/admin/ui/sign-in"]');
    step('sign-in asks for the domain', { status, asks: (await page.$('#f-okta_domain')) !== null });
    await page.type('#f-token', cfg.operator_token);
    await page.type('#f-okta_domain', cfg.sim);
    status = await submit('form[action="/admin/ui/sign-in"]');
    const cookies = await page.cookies();
    const session = cookies.find((c) => c.name === '__Host-okta_bridge_admin');
    step('signed in', { status, cookie: session && { secure: session.secure, httpOnly: session.httpOnly, sameSite: session.sameSite, path: session.path } });
    await audit('dashboard');
    await shot('02-integration-page');

    // Keyboard: the first Tab reaches the skip link, with a visible focus ring.
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      return { text: e.innerText, outline: s.outlineStyle + ' ' + s.outlineWidth };
    });
    step('keyboard focus', focus);

    // 1. The org: domain (already), app id and API token.
    await fill('#f-app_id', cfg.app_id);
    await page.type('#f-okta_api_token', cfg.api_token);
    status = await submit('form[action^="/admin/ui/org#"]');
    step('org saved', { status, notice: (await text()).includes('Saved your Okta org.') });

    // 2. Sign-in: an admin pastes our redirect URI into the app in Okta, and copies its client id and secret here.
    const redirect = await copied('#c-redirect-0');
    await sim(cfg, 'POST', '/sim/app', { redirect_uris: [redirect], client_id: cfg.client_id });
    await page.click('#f-sso_enabled');
    await page.click('#f-sso_protocol-oidc');
    await fill('#f-client_id', cfg.client_id);
    await page.type('#f-oidc_client_secret', cfg.client_secret);
    status = await submit('form[action^="/admin/ui/sso#"]');
    step('sign-in saved', { status, redirect });

    // A refused form keeps what was typed and says why, beside the field.
    await fill('#f-deactivation_brake_percent', '250');
    status = await submit('form[action^="/admin/ui/switches#"]');
    step('switches refused', {
      status,
      field_error: await page.$eval('#f-deactivation_brake_percent-error', (e) => e.innerText).catch(() => null),
      kept: await page.$eval('#f-deactivation_brake_percent', (e) => e.value),
    });
    await audit('refused-form');
    await fill('#f-deactivation_brake_percent', '20');
    await fill('#f-field_mappings', 'costCenter = cost_center');
    status = await submit('form[action^="/admin/ui/switches#"]');
    step('switches saved', { status });

    // 3. Provisioning by event hooks; the page registers the hook in Okta, which verifies it.
    await page.click('#f-provisioning-event_hooks');
    status = await submit('form[action^="/admin/ui/provisioning#"]');
    step('provisioning saved', { status, hook_url: await copied('#c-hook') });
    status = await submit('form[action^="/admin/ui/event-hook/register#"]');
    const registered = await text();
    step('hook registered', { status, verified: /created in Okta and verified/.test(registered) });
    await shot('03-event-hook-registered');

    // 4. Connect to Okta, from the keyboard: all green.
    await page.focus('form[action^="/admin/ui/connect#"] button');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
    step('connect', { checks: await checks() });
    await audit('connect');
    await page.$eval('#connect', (e) => e.scrollIntoView());
    await shot('04-connect-green');

    // A wrong app id: exactly one check goes red, saying what to do.
    await fill('#f-app_id', cfg.app_id + 'x');
    await submit('form[action^="/admin/ui/org#"]');
    await submit('form[action^="/admin/ui/connect#"]');
    step('connect with a wrong app id', { checks: await checks() });
    await shot('05-connect-red');
    await fill('#f-app_id', cfg.app_id);
    await submit('form[action^="/admin/ui/org#"]');

    // Secrets are shown once: a SCIM token appears on the page that issued it, never again.
    await submit('form[action^="/admin/ui/scim-tokens#"]');
    const token = await copied('#once-scim');
    await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    const html = await page.content();
    step('secret shown once', { shown: token.startsWith('scim_') || token.length > 20, again: html.includes(token) });

    // 6. Sync users: the progress bar moves while the run reads Okta's pages.
    const follow = async (name) => {
      const seen = [];
      const deadline = Date.now() + 120000;
      let shotTaken = false;
      while (Date.now() < deadline) {
        const s = await page.evaluate(() => {
          const box = document.querySelector('[data-progress-url]');
          if (!box) return null;
          const bar = box.querySelector('progress');
          return { seen: bar.getAttribute('data-seen'), value: bar.value, max: bar.max, label: box.querySelector('[data-progress-label]').innerText };
        }).catch(() => 'navigating');
        if (s === null) break;
        if (s !== 'navigating') {
          if (seen.length === 0 || seen[seen.length - 1].seen !== s.seen) seen.push(s);
          if (!shotTaken && Number(s.seen) > 0) {
            await shot(name);
            shotTaken = true;
          }
        }
        await sleep(150);
      }
      await page.waitForSelector('main');
      return seen;
    };
    await submit('form[action="/admin/ui/sync"]:not(:has(input[name=dry_run]))');
    const firstRun = await follow('06-sync-progress');
    step('first sync', { progress: firstRun, page: await text() });

    // A preview (dry run) after a change in Okta shows the diff as a table.
    await sim(cfg, 'PATCH', `/sim/users/${cfg.edit}?silent=true`, { title: 'Head of Learning' });
    await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    await submit('form[action="/admin/ui/sync"]:has(input[name=dry_run])');
    await follow('07-preview-progress');
    const diff = await page.$$eval('table tr', (rows) => rows.slice(1).map((r) => r.innerText));
    step('preview', { diff });
    await audit('preview');
    await shot('07-preview-diff');

    // A run that would deactivate more than the brake allows is held with its counts and who;
    // approving it applies them.
    for (const id of cfg.unassign) await sim(cfg, 'POST', `/sim/users/${id}/unassign?silent=true`);
    await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    await submit('form[action="/admin/ui/sync"]:not(:has(input[name=dry_run]))');
    const heldRun = await follow('08-held-progress');
    const held = await text();
    step('held', { progress: heldRun, held: /Held: this run would deactivate/.test(held), approve: (await page.$('form[action$="/approve"]')) !== null });
    await audit('held');
    await shot('08-held-run');
    await submit('form[action$="/approve"]');
    const approved = await follow('09-approved-progress');
    step('approved', { progress: approved, page: await text() });
    await shot('09-approved');

    // People: search, invite one.
    await page.goto(cfg.base + '/admin/ui/people', { waitUntil: 'load' });
    await page.type('#f-q', cfg.invite_search);
    await submit('form[action="/admin/ui/people"]');
    const rows = await page.$$eval('table tr', (r) => r.length - 1);
    await submit('form[action$="/invite"]');
    step('invited', { rows, notice: await page.$eval('.notice', (e) => e.innerText).catch(() => null) });
    await audit('people');
    await shot('10-people-invited');

    // The change feed.
    await page.goto(cfg.base + '/admin/ui/changes', { waitUntil: 'load' });
    step('changes', { rows: await page.$$eval('table tr', (r) => r.length - 1) });
    await audit('changes');

    // A forged form (wrong CSRF token) changes nothing.
    await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    await page.$eval('form[action^="/admin/ui/connect#"] input[name=csrf]', (e) => { e.value = 'forged'; });
    status = await submit('form[action^="/admin/ui/connect#"]');
    step('forged form', { status, page: await text() });

    // Sign out: the session ends; the page asks to sign in again.
    await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    status = await submit('form[action="/admin/ui/sign-out"]');
    step('signed out', { status, page: await text(), cookie: (await page.cookies()).some((c) => c.name === '__Host-okta_bridge_admin') });
    await shot('11-signed-out');
    const again = await page.goto(cfg.base + '/admin/ui/', { waitUntil: 'load' });
    step('after sign-out', { status: again.status() });
  } catch (e) {
    // Where it stopped, for the test's failure message.
    const pages = await browser.pages();
    const last = pages[pages.length - 1];
    const body = last ? await last.evaluate(() => document.body && document.body.innerText).catch(() => '') : '';
    throw new Error(`${e && e.stack ? e.stack : e}\nat ${last && last.url()}\nsteps: ${JSON.stringify(out.steps)}\npage: ${String(body).slice(0, 3000)}`);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
