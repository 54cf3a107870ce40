/**
 * Loads PouchDB (pouchdb-core + pouchdb-adapter-leveldb + pouchdb-mapreduce) once and gives
 * it the narrow TypeScript surface the embedded adapter uses. PouchDB ships no types; the
 * declarations below cover only the calls made in embedded-store.ts.
 *
 * Contract
 * - `pouchDb(name, dir)` opens (creating if needed) the LevelDB database stored in
 *   `<dir>/<name>`; `name` must already be safe as a file name.
 * - Loading is lazy: importing this module does no I/O and loads no native code.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

export interface PouchChangesFeed extends EventEmitter {
  cancel(): void;
}

export interface PouchDatabase {
  info(): Promise<{ update_seq: number | string; doc_count: number }>;
  get(id: string): Promise<Record<string, unknown>>;
  getAttachment(id: string, name: string, opts: { rev: string }): Promise<Buffer>;
  put(doc: Record<string, unknown>): Promise<{ ok: boolean; id: string; rev: string }>;
  remove(id: string, rev: string): Promise<{ ok: boolean; id: string; rev: string }>;
  bulkDocs(docs: Array<Record<string, unknown>>): Promise<Array<Record<string, unknown>>>;
  query(view: string, opts: Record<string, unknown>): Promise<Record<string, unknown>>;
  allDocs(opts: Record<string, unknown>): Promise<Record<string, unknown>>;
  changes(opts: Record<string, unknown> & { live: true }): PouchChangesFeed;
  changes(
    opts: Record<string, unknown>,
  ): Promise<{ results: Array<Record<string, unknown>>; last_seq: number | string }>;
  destroy(): Promise<unknown>;
  close(): Promise<unknown>;
}

type PouchConstructor = new (name: string, opts: Record<string, unknown>) => PouchDatabase;

let ctor: PouchConstructor | undefined;

function load(): PouchConstructor {
  if (ctor === undefined) {
    const require = createRequire(import.meta.url);
    const core = require('pouchdb-core') as { plugin(p: unknown): typeof core };
    ctor = core
      .plugin(require('pouchdb-adapter-leveldb'))
      .plugin(require('pouchdb-mapreduce')) as unknown as PouchConstructor;
  }
  return ctor;
}

export function pouchDb(name: string, dir: string): PouchDatabase {
  const Pouch = load();
  return new Pouch(name, { adapter: 'leveldb', prefix: dir.endsWith('/') ? dir : `${dir}/` });
}
