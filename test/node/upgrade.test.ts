import { describe } from 'vitest';
import { upgradeSuite } from './upgrade-suite.ts';

describe('upgrading a plugin in a running node (embedded bus)', () => upgradeSuite('embedded'));
