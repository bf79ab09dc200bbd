// browser_type.js PAGE_URL PNG: drives headless Chromium over the DevTools protocol as a user
// would: open the page, type a query into the box key by key, press Enter, wait for the hits,
// print what the page shows, save a screenshot. Needs Chromium started with
// --remote-debugging-port=9333 (serve_browser.sh does) and Node 20 --experimental-websocket.
const [url, png] = process.argv.slice(2);
const fs = require('fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  let targets;
  for (let i = 0; i < 50 && !targets; i++) {
    try { targets = await (await fetch('http://127.0.0.1:9333/json')).json(); } catch { await sleep(200); }
  }
  const page = targets.find((t) => t.type === 'page');
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((r) => ws.addEventListener('open', r));
  let id = 0;
  const waiting = new Map();
  ws.addEventListener('message', (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); }
  });
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const n = ++id;
    waiting.set(n, (msg) => (msg.error ? reject(new Error(method + ': ' + msg.error.message)) : resolve(msg.result)));
    ws.send(JSON.stringify({ id: n, method, params }));
  });
  const evaluate = async (expr) => (await send('Runtime.evaluate', { expression: expr, returnByValue: true })).result.value;

  await send('Page.enable');
  await send('Emulation.setDeviceMetricsOverride', { width: 1000, height: 700, deviceScaleFactor: 1, mobile: false });
  await send('Page.navigate', { url });
  for (let i = 0; i < 50 && !(await evaluate("document.getElementById('q') !== null")); i++) await sleep(100);
  await evaluate("document.getElementById('q').focus()");
  for (const ch of 'How many people live in Berlin?') {
    await send('Input.dispatchKeyEvent', { type: 'keyDown', key: ch, text: ch });
    await send('Input.dispatchKeyEvent', { type: 'keyUp', key: ch });
  }
  const enter = { key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, nativeVirtualKeyCode: 13 };
  await send('Input.dispatchKeyEvent', { type: 'keyDown', ...enter, text: '\r' });
  await send('Input.dispatchKeyEvent', { type: 'keyUp', ...enter });
  let shown = '';
  for (let i = 0; i < 150; i++) {
    shown = await evaluate("document.body.innerText");
    if (/cross-encoder/.test(shown) || /error/i.test(shown)) break;
    await sleep(200);
  }
  console.log('typed: ' + (await evaluate("document.getElementById('q').value")));
  console.log(shown.split('\n').filter((l) => l.trim()).slice(0, 12).join('\n'));
  const shot = await send('Page.captureScreenshot', { format: 'png' });
  fs.writeFileSync(png, Buffer.from(shot.data, 'base64'));
  console.log('screenshot: ' + png);
  ws.close();
  if (!/cross-encoder/.test(shown)) process.exit(1);
}
main().catch((e) => { console.error(e); process.exit(1); });
