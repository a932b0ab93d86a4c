setTimeout(function later() {
  throw new TypeError('async failure');
}, 10);
