import { describe } from 'vitest';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { docNoticesSuite } from './doc-notices-suite.ts';

const broker = new EmbeddedBroker();
describe('doc-change notices from the store layer, embedded bus', () =>
  docNoticesSuite('embedded', () => broker));
