// sign-in-spread (issue 35, defect 4): ten addresses, 127.0.0.70-79, each within its own sign-in
// limits (30 attempts, each for a username of its own, so no
// username or failure limit is reached), all at once; meanwhile the pair signs in for real from
// 127.0.0.1. Before the fix every attempt queued for the hashing: the pair's sign-in waited for
// all of them. Target: the pair's sign-in under ~2× its quiet time (and the usual message p99).

const ADDRESSES = Array.from({ length: 10 }, (_, i) => `127.0.0.${70 + i}`);
/** Per address: within the default SIGNIN_RATE_ADDRESS (300/60), and as many as when that default was 30/60. */
const PER_ADDRESS = 30;
/** The pair signs in at most this often, so that its own username limit (10/60) is never reached. */
const PAIR_SIGN_INS = 5;

/**
 * @param ctx the attack context (port, signInBefore: the pair's quiet sign-in times)
 * @param tools request, tally, describe, sleep from load/abuse.mjs; pairAccount: the pair's credentials
 */
export async function signInSpread(ctx, { request, tally, describe, sleep, pairAccount }) {
  const statuses = {};
  const refusedMs = [];
  const tag = Date.now().toString(36);
  const flood = ADDRESSES.flatMap((localAddress, a) =>
    Array.from({ length: PER_ADDRESS }, async (_, i) => {
      const r = await request(ctx.port, 'POST', '/v1/sessions', {
        body: { username: `spread${tag}a${a}n${i}`, password: 'wrong-password' },
        localAddress,
      });
      tally(statuses, r.status);
      if (r.status === 429) refusedMs.push(r.ms);
    }),
  );
  let floodDone = false;
  const floodOver = Promise.all(flood).then(() => {
    floodDone = true;
  });
  const real = [];
  await sleep(300); // inside the flood
  for (let i = 0; i < PAIR_SIGN_INS && (!floodDone || real.length === 0); i++) {
    const r = await request(ctx.port, 'POST', '/v1/sessions', { body: pairAccount });
    real.push({ status: r.status, ms: Math.round(r.ms) });
    await sleep(1000);
  }
  await floodOver;
  const quiet = median(ctx.signInBefore);
  const worst = Math.max(...real.map((r) => r.ms));
  const realStatuses = {};
  for (const r of real) tally(realStatuses, r.status);
  const refusedP99 = refusedMs.length ? Math.round(refusedMs.sort((x, y) => x - y)[Math.floor(refusedMs.length * 0.99)]) : 0;
  const signInPass = real.every((r) => r.status === 200) && worst < 2 * quiet;
  return {
    answered:
      `${describe(statuses, ' HTTP')} (429 p99 ${refusedP99} ms); pair sign-in ${ctx.signInBefore.join('/')} → ` +
      `${real.map((r) => r.ms).join('/')} ms (${describe(realStatuses, ' HTTP')}; ${signInPass ? 'under' : 'NOT under'} 2× quiet)`,
    abuser: { statuses, refusedP99, pairSignIn: { without: ctx.signInBefore, with: real, pass: signInPass } },
    pass: signInPass,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
