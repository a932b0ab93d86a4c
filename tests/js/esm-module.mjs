// ES module fixture for the pymport_py tests.

export default function double(x) {
  return x * 2;
}

export const name = 'esm-module';

export async function asyncDouble(x) {
  await null;
  return x * 2;
}

export class Point {
  constructor(x, y) {
    this.x = x;
    this.y = y;
  }

  norm2() {
    return this.x * this.x + this.y * this.y;
  }
}

export const url = import.meta.url;
