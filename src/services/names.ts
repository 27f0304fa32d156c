/** Docker-style random container names: adjective_surname. */
import { randomInt } from 'node:crypto';

const LEFT = ['admiring', 'amazing', 'bold', 'brave', 'busy', 'clever', 'cool', 'dazzling', 'eager', 'elegant', 'epic', 'festive',
  'focused', 'friendly', 'gallant', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'lucid', 'modest', 'nice', 'optimistic', 'peaceful',
  'quirky', 'relaxed', 'serene', 'sharp', 'stoic', 'sweet', 'tender', 'trusting', 'upbeat', 'vibrant', 'wizardly', 'zealous'];
const RIGHT = ['agnesi', 'albattani', 'babbage', 'bohr', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'feynman', 'gauss',
  'hamilton', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamarr', 'lovelace', 'meitner', 'newton', 'noether', 'pascal',
  'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'wozniak', 'yalow'];

export function randomName(): string {
  return `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
}
