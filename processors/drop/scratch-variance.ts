import type { ProcessorFactory } from '../processor.ts';
import { drop } from './processor.ts';
import { maskPii } from '../mask-pii/processor.ts';
export const all: ProcessorFactory[] = [drop, maskPii];
