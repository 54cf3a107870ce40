import { describe } from 'vitest';
import { observerSuite } from './observer-suite.ts';

describe('observer on the embedded bus', () => observerSuite('embedded', 'emb'));
