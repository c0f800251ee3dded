/**
 * Option schemas that providers over an HTTP API share in their
 * `integrations[].options`.
 */
import { duration } from '../config/duration.ts';

/** `options.timeout`: the longest one request may take, 1–60 s, `fallback` when absent. */
export function requestTimeoutOption(fallback: string) {
  return duration({ min: '1s', max: '60s' }).prefault(fallback).describe('Longest one request may take.');
}
