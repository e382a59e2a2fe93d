// abuse `many-sockets` (issue 35, 5): the abuser opens 20 sockets, each sending messages to a group
// of its own at the socket rate limit (under it: never refused per socket), so that only a limit
// over all of one user's sockets, and on how many they may hold, keeps the replica for others.

const SOCKETS = 20;

/**
 * @param ctx the attack's context (abuse.mjs): wsUrl, tokens.abuser, abuserGroup, abuserRate, durationMs
 * @param lib abuse.mjs's AbuserSocket, paced and describe
 */
export async function manySockets(ctx, { AbuserSocket, paced, describe }) {
  const refusedAtUpgrade = {};
  const sockets = [];
  for (let k = 0; k < SOCKETS; k++) {
    const s = new AbuserSocket(ctx.wsUrl, ctx.tokens.abuser);
    try {
      await s.open();
      sockets.push(s);
    } catch (err) {
      s.stopped = true;
      const key = /answered (\d+)/.exec(err.message)?.[1] ?? err.message;
      refusedAtUpgrade[key] = (refusedAtUpgrade[key] ?? 0) + 1;
    }
  }
  const tag = Date.now().toString(36);
  const text = 'x'.repeat(200);
  try {
    await Promise.all(
      sockets.map((s, k) =>
        paced(ctx.abuserRate, ctx.durationMs, ctx.abuserRate * ctx.durationS, (i) =>
          s.send(`{"type":"send","id":"m${k}-${i}","group":"${ctx.abuserGroup}","clientMsgId":"ms-${tag}-${k}-${i}","text":"${text}"}`),
        ),
      ),
    );
    await Promise.all(sockets.map((s) => s.settle()));
  } finally {
    for (const s of sockets) s.close();
  }
  const answers = {};
  const closes = {};
  for (const s of sockets) {
    for (const [k, v] of Object.entries(s.answers)) answers[k] = (answers[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.closes)) closes[k] = (closes[k] ?? 0) + v;
  }
  const opened = sockets.length;
  const refused = Object.keys(refusedAtUpgrade).length ? `; refused at upgrade ${describe(refusedAtUpgrade, ' HTTP')}` : '';
  const closed = Object.keys(closes).length ? `; closes ${describe(closes)}` : '';
  return {
    answered: `${opened} sockets open${refused}; ${describe(answers)}${closed}`,
    abuser: { opened, refusedAtUpgrade, answers, closes, sent: sockets.reduce((n, s) => n + s.sent, 0) },
  };
}
