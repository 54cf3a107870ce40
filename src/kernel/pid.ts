/**
 * Process identifiers and references.
 *
 * A Pid is opaque: it names one process of one runtime for ever (ids are never reused
 * within a runtime), compares by identity or with `samePid`, and prints as
 * `<node.id>`. Holding a Pid keeps nothing of the process alive. A Ref names one
 * monitor or one timer.
 */
export class Pid {
  /** @internal Pids are made by the runtime only. */
  constructor(
    readonly id: number,
    readonly node: string,
  ) {}
  toString(): string {
    return `<${this.node}.${this.id}>`;
  }
  toJSON(): string {
    return this.toString();
  }
}

export class Ref {
  /** @internal */
  constructor(readonly id: number) {}
  toString(): string {
    return `#Ref<${this.id}>`;
  }
  toJSON(): string {
    return this.toString();
  }
}

export const samePid = (a: Pid | undefined, b: Pid | undefined): boolean =>
  a !== undefined && b !== undefined && a.id === b.id && a.node === b.node;

export const isPid = (x: unknown): x is Pid => x instanceof Pid;
