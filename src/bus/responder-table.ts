/**
 * ResponderTable: (Event-Category, Event-Name) -> handlers, as gen_listener's responders.
 * `*` in either position is a wildcard. `match(c, n)` returns every handler registered for
 * (c, n), (c, *), (*, n) and (*, *), each handler at most once, in registration order
 * within each of those four groups.
 */

export class ResponderTable<H> {
  private readonly table = new Map<string, H[]>();

  private static key(category: string, name: string): string {
    return `${category}\u0000${name}`;
  }

  add(category: string, name: string, handler: H): void {
    const k = ResponderTable.key(category, name);
    const list = this.table.get(k);
    if (list) {
      if (!list.includes(handler)) list.push(handler);
    } else {
      this.table.set(k, [handler]);
    }
  }

  /** Removes one handler, or every handler of (category, name) when none is given. */
  remove(category: string, name: string, handler?: H): boolean {
    const k = ResponderTable.key(category, name);
    const list = this.table.get(k);
    if (!list) return false;
    if (handler === undefined) return this.table.delete(k);
    const i = list.indexOf(handler);
    if (i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.table.delete(k);
    return true;
  }

  get size(): number {
    let n = 0;
    for (const l of this.table.values()) n += l.length;
    return n;
  }

  match(category: string, name: string): H[] {
    const exact = this.table.get(ResponderTable.key(category, name));
    const anyName = this.table.get(ResponderTable.key(category, '*'));
    const anyCat = this.table.get(ResponderTable.key('*', name));
    const any = this.table.get(ResponderTable.key('*', '*'));
    if (!anyName && !anyCat && !any) return exact ?? [];
    const out: H[] = [];
    for (const l of [exact, anyName, anyCat, any])
      if (l) for (const h of l) if (!out.includes(h)) out.push(h);
    return out;
  }
}
