/** Free TCP ports on loopback for servers a child process binds: the bench's picker (see there why it avoids the ephemeral range). */
export { freePort } from '../../scripts/bench/ports.js';
