// A person signs in through SAML in a real headless Chromium (puppeteer-core driving Debian's
// chromium, $CHROMIUM): opens START (our /saml/login), types EMAIL into this IdP's login form,
// lets the IdP's auto-posting form post to the ACS, and waits to land on RETURN_PATH.
// Prints one JSON line: {landed, status, body, cookies: [{name, secure, sameSite, httpOnly}]}.
//
//   node browser-login.js START EMAIL RETURN_PATH
'use strict';
const puppeteer = require('puppeteer-core');

// $CHROMIUM (make test sets it), else chromium or chromium-browser on the PATH.
const { launch } = require('../browser/chromium.js');

async function main() {
  const [start, email, returnPath] = process.argv.slice(2);
  if (!start || !email || !returnPath) throw new Error('usage: node browser-login.js START EMAIL RETURN_PATH');
  const browser = await launch(puppeteer);
  try {
    const page = await browser.newPage();
    await page.goto(start, { waitUntil: 'load' });
    await page.type('input[name=email]', email);
    let status = 0;
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === returnPath) status = r.status();
    });
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
    // The IdP's page posts itself to the ACS, which answers 303 to RETURN_PATH.
    await page.waitForFunction((p) => location.pathname === p, { timeout: 30000 }, returnPath);
    const body = await page.evaluate(() => document.body.innerText);
    const cookies = (await page.cookies()).map((c) => ({ name: c.name, secure: c.secure, sameSite: c.sameSite, httpOnly: c.httpOnly }));
    console.log(JSON.stringify({ landed: page.url(), status, body, cookies }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack));
  process.exit(1);
});
