// S5 reconnect: N sockets over R processes; one process holding 1/R of them is killed (SIGKILL);
// its clients reconnect to the others. Time until every socket is ready again (Banyan's `ready`
// carries each group's lastSeq: the socket is synced from there), and handshakes/s meanwhile.
import { args, connectBenchUsers, list, sleep, until, withSystem } from './lib/run.mjs';
import { nowMicros } from './lib/proc.mjs';
import { progress, table, writeResult } from './lib/report.mjs';
import { seed } from './lib/targets.mjs';

const o = args(
  'reconnect',
  { sockets: { type: 'string' }, processes: { type: 'string' }, systems: { type: 'string' } },
  { sockets: '10000', processes: '2', systems: 'banyan,socketio,ws' },
);
const N = Number(o.sockets);
const results = [];
for (const system of list(o.systems)) {
  results.push(
    await withSystem({ system, processes: Number(o.processes), sockets: N }, async (target, clients) => {
      if (system !== 'socketio' && system !== 'ws') await seed({ users: N, announcement: true });
      const connected = await connectBenchUsers(clients, target, N, { reconnect: true });
      progress(`${system}: ${connected.ready}/${N} ready; killing process 1`);
      await sleep(1000);
      const killedAt = nowMicros();
      target.children[1].expectedExit = true;
      target.children[1].kill('SIGKILL');
      const lowest = await until(clients, 'ready', (r) => r < connected.ready, 5000);
      clients.showProgress(`${system} reconnect`);
      const back = await until(clients, 'ready', (r) => r >= connected.ready, 90_000);
      clients.stopProgress();
      const seconds = (nowMicros() - killedAt) / 1e6;
      // The killed process held every socket whose index % processes === 1.
      const dropped = Math.floor((N + Number(o.processes) - 2) / Number(o.processes));
      progress(`${system}: ready fell to ${lowest}`);
      return {
        system,
        processes: Number(o.processes),
        sockets: connected.ready,
        // The first connect of all N sockets: session starts per second from cold.
        connectPerS: Math.round(connected.ready / connected.seconds),
        dropped,
        allBack: back >= connected.ready,
        secondsToAllBack: seconds,
        handshakesPerS: Math.round(dropped / seconds),
      };
    }),
  );
}
table(`S5 reconnect: ${N} sockets over ${o.processes} processes, one killed`, results);
writeResult('reconnect', { parameters: { sockets: N, processes: Number(o.processes) }, results });
process.exit(0);
