// Which Chromium the browser tests drive, and how they start it: $CHROMIUM (make test sets it), else chromium or
// chromium-browser on the PATH (Debian's; scripts/chromium.sh installs it).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function chromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const candidate = path.join(dir, name);
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  throw new Error('no chromium: install it (make test does: scripts/chromium.sh) or set CHROMIUM');
}

// Starts it headless with `puppeteer` (each test package's own puppeteer-core).
function launch(puppeteer) {
  return puppeteer.launch({ executablePath: chromium(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
}

module.exports = { chromium, launch };
