// A busy loop using `duty` of one core (2 ms slices), set over IPC ({ duty }): load/presence.mjs's
// `--burn`, which loads the machine under the ws floor as much as Banyan's storage and extra work
// load it, so the floor's own rise can be read at Banyan's CPU footprint.
const SLICE_MS = 2;
let duty = 0;
process.on('message', (m) => {
  if (typeof m?.duty === 'number') duty = Math.min(1, Math.max(0, m.duty));
});
function tick() {
  if (duty === 0) return setTimeout(tick, 20);
  const end = performance.now() + SLICE_MS;
  while (performance.now() < end) {}
  setTimeout(tick, (SLICE_MS * (1 - duty)) / duty);
}
tick();
