console.log(process.sourceMapsEnabled, process.execArgv.includes('--enable-source-maps'));
