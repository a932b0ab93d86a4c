// A CommonJS module that reaches pymport's API through import().
module.exports = async () => {
  const { pyval } = await import('pymport');
  const array = await import('pymport/array');
  return [pyval('"dyn" * 2').toJS(), typeof array.toTypedArray];
};
