function explode() {
  throw new RangeError('sync failure');
}
explode();
