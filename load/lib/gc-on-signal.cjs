// Preloaded into every server under test (node --expose-gc --require ...): SIGUSR2 runs a full
// garbage collection, so heap and RSS per socket are measured without the garbage of connecting.
process.on('SIGUSR2', () => global.gc?.());
