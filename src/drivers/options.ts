import { invalid } from '../errors.js';

/** Go's strconv.ParseBool, with Docker's wording when it fails. */
export function parseBoolOption(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw invalid(`invalid value "${value}" for option ${key}: strconv.ParseBool: parsing "${value}": invalid syntax`);
}

export function boolOption(options: Record<string, string>, key: string, fallback: boolean): boolean {
  return key in options ? parseBoolOption(key, options[key]) : fallback;
}
