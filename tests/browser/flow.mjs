// The demo page in a real browser: Debian's chromium driven by playwright-core.
//
// For each demo (axum, actix) it starts the built example binary on a free loopback port with
// small policy values (3 attempts, so that the lock is three wrong codes away), then, as a user
// would: opens the page, sends a code, reads the code from the demo's stdout (the console
// provider's line), types a wrong code (the page says how many attempts are left), types the
// right one, calls the guarded GET /protected (the page shows the phone); then locks a second
// number with wrong codes (the page says how long to wait) and asks twice for a code for a third
// (the page shows the cooldown's seconds from retry_after). WebOTP: with a stand-in for the
// browser's SMS reading, the page fills in the code from the SMS's `@host #code` line and
// verifies by itself. A screenshot of each step goes to
// target/browser-screenshots/<demo>-<step>.png, and its path is printed.
//
// Run by .ci/browser.sh, which installs chromium and the npm packages and builds the demos
// first. Environment: CHROMIUM (default /usr/bin/chromium), DEMOS (default "axum,actix"),
// DEMO_BIN_DIR (default target/debug/examples), SCREENSHOT_DIR.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const demos = (process.env.DEMOS || 'axum,actix').split(',').map((d) => d.trim()).filter(Boolean);
const binDir = resolve(root, process.env.DEMO_BIN_DIR || 'target/debug/examples');
const shots = resolve(root, process.env.SCREENSHOT_DIR || 'target/browser-screenshots');
const WEBOTP_HOST = 'localhost';
const MAX_ATTEMPTS = 3;
const LOCKOUT = 120;
const COOLDOWN = 30;

const children = new Set();
function stopAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopAll();
    process.exit(1);
  });
}

function fail(message) {
  throw new Error(message);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, probe, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Starts a demo; resolves to { base, stdout(), stderr(), stop() } once GET /health answers.
async function startDemo(demo) {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME || '/root',
    RUST_LOG: 'warn,twofactor_examples=info',
    BIND: '127.0.0.1:0',
    TWOFACTOR_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    TWOFACTOR_LOCKOUT: String(LOCKOUT),
    TWOFACTOR_RESEND_COOLDOWN: String(COOLDOWN),
    TWOFACTOR_WEBOTP_HOST: WEBOTP_HOST,
  };
  const child = spawn(join(binDir, demo), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const spawned = new Promise((ok, ko) => {
    child.once('spawn', ok);
    child.once('error', ko);
  });
  await spawned;
  const base = await waitFor(`the ${demo} demo to listen`, () => {
    if (child.exitCode !== null) fail(`the ${demo} demo exited:\n${err}`);
    const m = err.match(/listening on (http:\/\/[0-9.:]+)/);
    return m && m[1];
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // Not accepting yet.
    }
    if (i > 200) fail(`${base}/health never answered`);
    await sleep(50);
  }
  return {
    base,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}


// The code the console provider printed for `phone`, newer than the `seen` codes before it.
async function codeFor(demo, phone, seen) {
  const line = new RegExp(`sms to ${phone.replace('+', '\\+')}: code (\\d+)`, 'g');
  return waitFor(`the code for ${phone} on the ${demo} demo's stdout`, () => {
    const codes = [...demo.stdout().matchAll(line)].map((m) => m[1]);
    return codes.length > seen ? codes[codes.length - 1] : null;
  });
}

function countCodes(demo, phone) {
  const line = new RegExp(`sms to ${phone.replace('+', '\\+')}: code (\\d+)`, 'g');
  return [...demo.stdout().matchAll(line)].length;
}

const wrongFor = (code) => (code === '000000' ? '111111' : '000000');

async function runDemo(browser, name) {
  const steps = [];
  const demo = await startDemo(name);
  const context = await browser.newContext();
  const page = await context.newPage();
  const shot = async (step) => {
    const path = join(shots, `${name}-${String(steps.length + 1).padStart(2, '0')}-${step}.png`);
    await page.screenshot({ path, fullPage: true });
    steps.push(path);
    console.log(`screenshot ${path}`);
  };
  // The page's message once it shows error `error` ('' = no error) and matches `pattern`.
  const expectMessage = async (error, pattern, step) => {
    const message = page.locator('#message');
    try {
      await page.waitForFunction(
        ([error, source]) => {
          const el = document.getElementById('message');
          return el.dataset.error === error && new RegExp(source).test(el.textContent);
        },
        [error, pattern.source],
        { timeout: 10000 },
      );
    } catch {
      const text = await message.textContent();
      const got = await message.getAttribute('data-error');
      fail(`${name} ${step}: expected error "${error}" matching ${pattern}, the page shows "${got}": ${text}`);
    }
    await shot(step);
    return message.textContent();
  };
  const send = async (phone) => {
    await page.fill('#phone', phone);
    await page.click('#send');
  };
  const verify = async (code) => {
    await page.fill('#code', code);
    await page.click('#verify');
  };

  try {
    await page.goto(`${demo.base}/`);
    const autocomplete = await page.getAttribute('#code', 'autocomplete');
    const inputmode = await page.getAttribute('#code', 'inputmode');
    if (autocomplete !== 'one-time-code' || inputmode !== 'numeric') {
      fail(`${name}: the code input has autocomplete=${autocomplete} inputmode=${inputmode}`);
    }
    await shot('page');

    // The flow: send, a wrong code, the right code, the protected call.
    const phone = '+919812345678';
    let seen = countCodes(demo, phone);
    await send('98123 45678');
    await expectMessage('', /Code sent to \+919812345678/, 'sent');
    const code = await codeFor(demo, phone, seen);
    if (!demo.stdout().includes(`webotp line for ${phone}: @${WEBOTP_HOST} #${code}`)) {
      fail(`${name}: no WebOTP line "@${WEBOTP_HOST} #${code}" on stdout`);
    }
    await verify(wrongFor(code));
    await expectMessage('incorrect_code', new RegExp(`Wrong code\\. ${MAX_ATTEMPTS - 1} attempts left`), 'wrong-code');
    await verify(code);
    await expectMessage('', /Verified \+919812345678/, 'verified');
    await page.click('#protected');
    await expectMessage('', /Protected call answered for \+919812345678/, 'protected');

    // WebOTP, in a page of its own: chromium here has no SMS to read, so a stand-in for the
    // browser's part hands the page the code from the SMS's origin-bound line, as a phone's
    // browser would; the page must fill it in and verify without a keystroke.
    const otpPage = await context.newPage();
    await otpPage.addInitScript(() => {
      let deliver = null;
      window.OTPCredential = function OTPCredential() {};
      window.__webotpRequests = 0;
      navigator.credentials.get = (options) => {
        if (!options || !options.otp) return Promise.reject(new Error('not an OTP request'));
        window.__webotpRequests++;
        return new Promise((resolve, reject) => {
          deliver = (code) => resolve({ type: 'otp', code });
          if (options.signal) options.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        });
      };
      window.__deliverSms = (code) => deliver && deliver(code);
    });
    await otpPage.goto(`${demo.base}/`);
    const otpPhone = '+919812345681';
    await otpPage.fill('#phone', otpPhone);
    await otpPage.click('#send');
    await otpPage.waitForFunction(() => window.__webotpRequests === 1, null, { timeout: 10000 });
    const otpLine = new RegExp(`webotp line for \\+919812345681: @${WEBOTP_HOST} #(\\d+)`);
    const bound = await waitFor('the WebOTP line', () => {
      const m = demo.stdout().match(otpLine);
      return m && m[1];
    });
    await otpPage.evaluate((code) => window.__deliverSms(code), bound);
    try {
      await otpPage.waitForFunction(
        () => /Verified \+919812345681/.test(document.getElementById('message').textContent),
        null,
        { timeout: 10000 },
      );
    } catch {
      fail(`${name} webotp: the page shows "${await otpPage.textContent('#message')}"`);
    }
    const path = join(shots, `${name}-${String(steps.length + 1).padStart(2, '0')}-webotp.png`);
    await otpPage.screenshot({ path, fullPage: true });
    steps.push(path);
    console.log(`screenshot ${path}`);
    await otpPage.close();

    // The lock: the attempt budget spent on a second number.
    const locked = '+919812345679';
    seen = countCodes(demo, locked);
    await send(locked);
    await expectMessage('', /Code sent to \+919812345679/, 'sent-second');
    const lockedCode = await codeFor(demo, locked, seen);
    for (let left = MAX_ATTEMPTS - 1; left >= 1; left--) {
      await verify(wrongFor(lockedCode));
      const noun = left === 1 ? 'attempt' : 'attempts';
      await expectMessage('incorrect_code', new RegExp(`${left} ${noun} left`), `wrong-${MAX_ATTEMPTS - left}`);
    }
    await verify(wrongFor(lockedCode));
    const lockText = await expectMessage('too_many_attempts', /locked\. Try again in \d+ seconds/, 'locked');
    const wait = Number(lockText.match(/in (\d+) seconds/)[1]);
    if (!(wait > 0 && wait <= LOCKOUT)) fail(`${name}: a lock of ${wait} s, expected 1..${LOCKOUT}`);
    // Even the right code is refused while locked.
    await verify(lockedCode);
    await expectMessage('too_many_attempts', /Try again in \d+ seconds/, 'locked-right-code');

    // The rate limit: a second send inside the cooldown.
    const third = '+919812345680';
    await send(third);
    await expectMessage('', /Code sent to \+919812345680/, 'sent-third');
    await send(third);
    const limitText = await expectMessage('rate_limited', /Please wait \d+ seconds? before trying again \(a code was sent a moment ago\)/, 'rate-limited');
    const retry = Number(limitText.match(/wait (\d+) second/)[1]);
    if (!(retry > 0 && retry <= COOLDOWN)) fail(`${name}: retry after ${retry} s, expected 1..${COOLDOWN}`);
    console.log(`${name}: ok (${steps.length} steps)`);
  } catch (e) {
    try {
      await page.screenshot({ path: join(shots, `${name}-failed.png`), fullPage: true });
      console.log(`screenshot ${join(shots, `${name}-failed.png`)}`);
    } catch {
      // The page may be gone; the error below says what happened.
    }
    console.error(`--- ${name} demo stderr (last lines)\n${demo.stderr().split('\n').slice(-30).join('\n')}`);
    throw e;
  } finally {
    await context.close();
    await demo.stop();
  }
}

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  // Root in a container: chromium's sandbox needs user namespaces it may not have.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
let passed = 0;
let failed = 0;
try {
  for (const name of demos) {
    try {
      await runDemo(browser, name);
      passed++;
    } catch (e) {
      failed++;
      console.error(`${name}: FAILED: ${e.message}`);
    }
  }
} finally {
  await browser.close();
  stopAll();
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
