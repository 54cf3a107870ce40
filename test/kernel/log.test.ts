import { describe, expect, it, vi } from 'vitest';
import { lazyChild, memoryLogger, withCallId } from '../../src/kernel/log.ts';

describe('lazyChild', () => {
  it('writes the lines its pino child would: bindings, nested children, call_id, redaction', () => {
    const eager = memoryLogger('n@h', 'info');
    const lazy = memoryLogger('n@h', 'info');
    const write = (log: typeof eager.logger): void => {
      log.info({ a: 1 }, 'one');
      log.child({ call_id: 'c1' }).warn({ password: 'x', nested: { secret: 'y' } }, 'two');
      withCallId('c2', () => log.error('three'));
      log.debug('not written');
    };
    write(eager.logger.child({ proc: 'p', app: 'a' }));
    write(lazyChild(lazy.logger, { proc: 'p', app: 'a' }));
    const strip = (ls: Array<Record<string, unknown>>): unknown[] => ls.map(({ time: _t, ...l }) => l);
    expect(strip(lazy.lines)).toEqual(strip(eager.lines));
    expect(lazy.lines).toHaveLength(3);
    expect(lazy.lines[1]).toMatchObject({ proc: 'p', call_id: 'c1', password: '[redacted]' });
  });

  it('makes no pino child until a line is written at an enabled level', () => {
    const { logger, lines } = memoryLogger('n@h', 'warn');
    const child = vi.spyOn(logger, 'child');
    const log = lazyChild(logger, { proc: 'p' }).child({ call_id: 'c' });
    log.info('below the level');
    log.debug({ big: 'object' }, 'below the level');
    expect(log.isLevelEnabled('info')).toBe(false);
    expect(log.level).toBe('warn');
    expect(child).not.toHaveBeenCalled();
    log.warn('written');
    expect(child).toHaveBeenCalledTimes(2); // {proc}, then {call_id} on it
    expect(lines).toMatchObject([{ proc: 'p', call_id: 'c', msg: 'written' }]);
  });

  it('a level set on it applies to it alone', () => {
    const { logger, lines } = memoryLogger('n@h', 'warn');
    const log = lazyChild(logger, { proc: 'p' });
    log.level = 'debug';
    log.debug('debug line');
    logger.debug('not written');
    expect(lines.map((l) => l.msg)).toEqual(['debug line']);
  });
});
