import { readFileSync } from 'node:fs';
import { commaList, none, parse, single, unknownSubcommand } from './args.ts';
import { emit, listCommand, readAll, readPassword, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';
import { passwordResetLink, RESET_LINK_USAGE } from './password-reset.ts';

export const USERS_USAGE = `  users create --username U [--email E] [--name N] [--role R]... --password-stdin
  users update U [--email E] [--name N] [--role R]...
                             change U's e-mail, name or roles (--role replaces them all;
                             --email "" and --name "" remove them)
  users disable U            disable U, revoke all of U's grants and end U's sessions
  users enable U             enable U again (nothing revoked comes back)
  users delete U             erase U and everything U holds: grants, tokens, sessions
                             (the audit log keeps only U's id)
  users set-password U --password-stdin
                             set U's password (read from stdin, never the command line);
                             revokes all of U's grants and ends U's sessions
${RESET_LINK_USAGE}
  users reset-mfa U          remove every second factor of U (authenticator app, recovery
                             codes, passkeys), e.g. after a lost phone; U's password stays
  users import FILE          JSON lines (username, email, password_hash, roles); FILE - reads stdin
  users list [--limit N] [--offset N]
  users show U`;

interface SecondFactors { totp: boolean; passkeys: number; recovery_codes_left: number }
interface User { id: string; username: string; email: string | null; roles: string[]; disabled: boolean; mfa: SecondFactors }
interface ImportResult { index: number; username?: string; status: string; errors?: Array<{ field: string; message: string }> }

// Each import request stays well under the admin API's 64 kB body limit.
const BATCH_ITEMS = 200;
const BATCH_BYTES = 48 * 1024;

async function create(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    username: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', multiple: true },
    'password-stdin': { type: 'boolean' },
  });
  none(positionals);
  if (!values.username) throw new UsageError('--username is required');
  if (!values['password-stdin']) throw new UsageError('--password-stdin is required: the password is read from stdin, never from the command line');
  const password = await readPassword(cli);
  const roles = values.role?.flatMap((role) => commaList(role) ?? []);
  const user = await cli.api.post<User>('/users', { username: values.username, email: values.email, name: values.name, roles, password });
  emit(cli, user, () => [`created user ${user.username} (id ${user.id})`]);
  return 0;
}

type Line = { line: number; value: unknown } | { line: number; error: string };

function parseLines(text: string): Line[] {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim()) return;
    try {
      lines.push({ line: i + 1, value: JSON.parse(raw) });
    } catch {
      lines.push({ line: i + 1, error: 'not valid JSON' });
    }
  });
  return lines;
}

/** JSON lines → batches sent in order; each result is reported against its line number. */
async function importUsers(args: string[], cli: CommandContext): Promise<number> {
  const { positionals } = parse(args, {});
  const file = single(positionals, 'FILE');
  const text = file === '-' ? await readAll(cli.stdin) : readFileSync(file, 'utf8');
  const lines = parseLines(text);
  const results: Array<{ line: number } & Omit<ImportResult, 'index'>> = [];
  for (const bad of lines.filter((l) => 'error' in l)) results.push({ line: bad.line, status: 'invalid', errors: [{ field: '(line)', message: (bad as { error: string }).error }] });

  const sizeOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value)) + 1;
  const valid: Array<{ line: number; value: unknown }> = [];
  for (const l of lines) {
    if (!('value' in l)) continue;
    // a line no request could carry is reported, not allowed to sink the whole import
    if (sizeOf(l.value) > BATCH_BYTES) results.push({ line: l.line, status: 'invalid', errors: [{ field: '(line)', message: `longer than ${BATCH_BYTES / 1024} kB` }] });
    else valid.push(l);
  }
  for (let start = 0; start < valid.length;) {
    const batch: typeof valid = [];
    let bytes = 0;
    while (start < valid.length && batch.length < BATCH_ITEMS) {
      const size = sizeOf(valid[start].value);
      if (batch.length && bytes + size > BATCH_BYTES) break;
      batch.push(valid[start++]);
      bytes += size;
    }
    const answer = await cli.api.post<{ results: ImportResult[] }>('/users/import', { users: batch.map((l) => l.value) });
    for (const { index, ...result } of answer.results) results.push({ line: batch[index].line, ...result });
  }
  results.sort((a, b) => a.line - b.line);
  const imported = results.filter((r) => r.status === 'imported').length;
  const failed = results.length - imported;
  emit(cli, { imported, failed, results }, () => [
    ...results.filter((r) => r.status !== 'imported').map((r) => `line ${r.line}${r.username ? ` (${r.username})` : ''}: ${r.status}: ${(r.errors ?? []).map((e) => `${e.field} ${e.message}`).join('; ')}`),
    `imported ${imported}, failed ${failed}`,
  ]);
  return failed ? 1 : 0;
}

async function update(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    email: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', multiple: true },
  });
  const id = single(positionals, 'user');
  // "" removes the e-mail address or the name; --role replaces every role
  const change = {
    ...(values.email !== undefined ? { email: values.email || null } : {}),
    ...(values.name !== undefined ? { name: values.name || null } : {}),
    ...(values.role !== undefined ? { roles: values.role.flatMap((role) => commaList(role) ?? []) } : {}),
  };
  if (!Object.keys(change).length) throw new UsageError('nothing to change: give --email, --name or --role');
  const user = await cli.api.patch<User>(`/users/${encodeURIComponent(id)}`, change);
  emit(cli, user, () => [`updated user ${user.username} (id ${user.id})`]);
  return 0;
}

async function setPassword(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { 'password-stdin': { type: 'boolean' } });
  const id = single(positionals, 'user');
  if (!values['password-stdin']) throw new UsageError('--password-stdin is required: the password is read from stdin, never from the command line');
  const password = await readPassword(cli);
  const answer = await cli.api.post<{ id: string; revoked_grants: number; ended_sessions: number }>(`/users/${encodeURIComponent(id)}/password`, { password });
  emit(cli, answer, () => [`set the password of ${id}; revoked ${answer.revoked_grants} grant(s), ended ${answer.ended_sessions} session(s)`]);
  return 0;
}

/** The MFA column of `users list`: what is enrolled, or "-" */
function mfaSummary(mfa: SecondFactors | undefined): string {
  if (!mfa) return '-';
  const parts = [...(mfa.totp ? ['totp'] : []), ...(mfa.passkeys ? [`${mfa.passkeys} passkey${mfa.passkeys === 1 ? '' : 's'}`] : [])];
  return parts.length ? parts.join(', ') : '-';
}

/** A field of `users show`: lists as words, the second factors as "totp: yes, passkeys: 1, recovery codes left: 10". */
function showValue(value: unknown): string {
  if (Array.isArray(value)) return value.join(' ');
  if (value && typeof value === 'object') {
    const mfa = value as SecondFactors;
    return `totp: ${mfa.totp ? 'yes' : 'no'}, passkeys: ${mfa.passkeys}, recovery codes left: ${mfa.recovery_codes_left}`;
  }
  return String(value);
}

export async function usersCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': return create(rest, cli);
    case 'import': return importUsers(rest, cli);
    case 'update': return update(rest, cli);
    // --reset-link: a one-time link for the person (password-reset.ts); else --password-stdin
    case 'set-password': return rest.includes('--reset-link') ? passwordResetLink(rest, cli) : setPassword(rest, cli);
    case 'disable': {
      const user = encodeURIComponent(single(parse(rest, {}).positionals, 'user'));
      const answer = await cli.api.post<{ user: User; revoked_grants: number; ended_sessions: number }>(`/users/${user}/disable`);
      emit(cli, answer, () => [`disabled ${answer.user.username}; revoked ${answer.revoked_grants} grant(s), ended ${answer.ended_sessions} session(s)`]);
      return 0;
    }
    case 'enable': {
      const user = encodeURIComponent(single(parse(rest, {}).positionals, 'user'));
      const answer = await cli.api.post<User>(`/users/${user}/enable`);
      emit(cli, answer, () => [`enabled ${answer.username}`]);
      return 0;
    }
    case 'delete': {
      // no confirmation prompt, as for every other admin command (they never prompt when stdin is not a terminal)
      const user = encodeURIComponent(single(parse(rest, {}).positionals, 'user'));
      const answer = await cli.api.delete<{ id: string; revoked_grants: number; ended_sessions: number }>(`/users/${user}`);
      emit(cli, answer, () => [`deleted user ${answer.id}; revoked ${answer.revoked_grants} grant(s), ended ${answer.ended_sessions} session(s)`]);
      return 0;
    }
    case 'reset-mfa': {
      const user = encodeURIComponent(single(parse(rest, {}).positionals, 'user'));
      const answer = await cli.api.post<User>(`/users/${user}/mfa/reset`);
      emit(cli, answer, () => [`removed every second factor of ${answer.username}; they sign in with their password alone until they set one up again`]);
      return 0;
    }
    case 'show': {
      // the command line is checked before cli.api is touched (it needs credentials)
      const id = single(parse(rest, {}).positionals, 'user');
      const user = await cli.api.get<User>(`/users/${encodeURIComponent(id)}`);
      emit(cli, user, () => Object.entries(user).map(([key, value]) => `${key}: ${showValue(value)}`));
      return 0;
    }
    case 'list': return listCommand<User>(cli, rest, '/users', {
      USERNAME: (u) => u.username, ID: (u) => u.id, EMAIL: (u) => u.email ?? '', ROLES: (u) => u.roles.join(' '), STATE: (u) => (u.disabled ? 'disabled' : 'active'),
      MFA: (u) => mfaSummary(u.mfa),
    });
    default: return unknownSubcommand('users', sub);
  }
}
