// image-bomb (issue 35 #6): the abuser uploads tiny images of huge dimensions (a ~1 KB AVIF of
// 6300 × 6300 px, which cost ~21 s of CPU before the fix) and 36-megapixel JPEGs within the
// limits, four at a time for the attack's duration, while the pair chats and a third user
// uploads an ordinary photo once a second. Reported: the abuser's answers, and the photo's
// upload time before the abuser starts and while it runs.
import http from 'node:http';
import sharp from 'sharp';
import { mintToken } from '../lib/admin.mjs';
import { nowMicros, sleep } from '../lib/proc.mjs';
import { SECRET } from '../lib/targets.mjs';

const PHOTOGRAPHER = 'ab-photographer';
const IN_FLIGHT = 4;

let images;
/** Made once per run (the AVIF takes seconds to encode), before the abuser starts. */
async function makeImages() {
  images ??= {
    bomb: await sharp({ create: { width: 6300, height: 6300, channels: 3, background: '#c33' } })
      .avif({ effort: 0 })
      .toBuffer(),
    heavy: await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#753' } })
      .jpeg()
      .toBuffer(),
    photo: await sharp({ create: { width: 1600, height: 1200, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg({ quality: 80 })
      .toBuffer(),
  };
  return images;
}

/** POST /v1/attachments with raw bytes; resolves with the status and the time it took. */
function upload(port, token, bytes, type, name, localAddress) {
  const started = nowMicros();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/v1/attachments?name=${name}`,
        timeout: 120_000,
        ...(localAddress ? { localAddress } : {}),
        headers: { authorization: `Bearer ${token}`, 'content-type': type, 'content-length': bytes.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: (nowMicros() - started) / 1000 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: (nowMicros() - started) / 1000 }));
    req.end(bytes);
  });
}

const stats = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { n: sorted.length, p50: at(0.5), max: Math.round(sorted[sorted.length - 1] ?? 0) };
};

/** The attack: `ctx` as abuse.mjs gives it; `abuserAddress` keeps per-address limits off the others. */
export async function imageBomb(ctx, abuserAddress) {
  const { bomb, heavy, photo } = await makeImages();
  const photographer = await mintToken(SECRET, PHOTOGRAPHER);
  const before = [];
  for (let i = 0; i < 3; i++) before.push((await upload(ctx.port, photographer, photo, 'image/jpeg', 'photo.jpg')).ms);

  const statuses = {};
  const times = { bomb: [], heavy: [] };
  const deadline = Date.now() + ctx.durationMs;
  let sent = 0;
  const lane = async () => {
    while (Date.now() < deadline) {
      const kind = sent++ % 2 === 0 ? 'bomb' : 'heavy';
      const r = await (kind === 'bomb'
        ? upload(ctx.port, ctx.tokens.abuser, bomb, 'image/avif', 'bomb.avif', abuserAddress)
        : upload(ctx.port, ctx.tokens.abuser, heavy, 'image/jpeg', 'heavy.jpg', abuserAddress));
      const key = `${kind} ${r.status}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      times[kind].push(r.ms);
      if (r.status === 429) await sleep(1000);
    }
  };
  const during = [];
  const photos = (async () => {
    await sleep(500); // inside the flood
    while (Date.now() < deadline || during.length === 0) {
      const r = await upload(ctx.port, photographer, photo, 'image/jpeg', 'photo.jpg');
      during.push({ status: r.status, ms: r.ms });
      await sleep(1000);
    }
  })();
  await Promise.all([...Array.from({ length: IN_FLIGHT }, lane), photos]);
  const withMs = stats(during.map((r) => r.ms));
  const beforeMs = stats(before);
  const described = Object.entries(statuses)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ');
  return {
    answered: `${described}; photo upload p50 ${beforeMs.p50} → ${withMs.p50} ms, max ${beforeMs.max} → ${withMs.max} ms`,
    abuser: {
      statuses,
      bombMs: stats(times.bomb),
      heavyMs: stats(times.heavy),
      bombBytes: bomb.length,
      photoUpload: { without: before.map(Math.round), with: during.map((r) => ({ status: r.status, ms: Math.round(r.ms) })) },
    },
  };
}
