import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { AccountStore, AnyAuthStore, NewAccount, NewOAuthFlow } from '../db/store.ts'
import { ConflictError } from '../errors.ts'
import { assertFields, HOUR, rejection, type StoreCase, user, wholeSecond } from './case.ts'

function identity (provider: string, subject: string, now: Date, email: string | null = null): NewAccount {
  return { id: randomUUID(), provider, subject, email, emailVerified: email !== null, tokens: null, createdAt: now }
}

function flow (provider: string, stateHash: string, now: Date, challenge: string | null = null): NewOAuthFlow {
  return {
    id: randomUUID(),
    stateHash,
    provider,
    codeVerifier: 'v'.repeat(43),
    nonce: 'n',
    redirectTo: 'https://app.example/',
    linkUserId: null,
    clientChallenge: challenge,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 600_000)
  }
}

/** The accounts facet, or a skip: it is optional (a store without it cannot serve `providers`). */
function accountsOf (store: AnyAuthStore): AccountStore | undefined {
  return store.accounts
}

export const accountCases: StoreCase[] = [{
  name: 'accounts (when offered): a user made with its first identity, found by (provider, subject); a taken email writes nothing',
  async run (store) {
    const accounts = accountsOf(store)
    if (accounts === undefined) return
    const now = wholeSecond()
    const made = await accounts.createWithUser({ email: 'p@example.com', passwordHash: null, isVerified: true }, identity('corp', 'sub-1', now, 'p@example.com'))
    assertFields(made.user, { email: 'p@example.com', passwordHash: null, isVerified: true })
    assertFields(made.account, { userId: made.user.id, provider: 'corp', subject: 'sub-1', emailVerified: true, createdAt: now, lastLoginAt: null })
    assert.equal('tokens' in made.account, false, 'an identity is read without its sealed tokens')
    assert.deepEqual((await accounts.findBySubject('corp', 'sub-1'))?.user.id, made.user.id)
    assert.equal(await accounts.findBySubject('corp', 'sub-2'), undefined)
    assert.equal(await accounts.findBySubject('other', 'sub-1'), undefined, 'the subject is the provider\'s own')
    const taken = await rejection(accounts.createWithUser({ email: 'p@example.com', passwordHash: null }, identity('corp', 'sub-2', now)), 'a taken email')
    assert.ok(taken instanceof ConflictError && taken.code === 'email_taken')
    assert.equal(await accounts.findBySubject('corp', 'sub-2'), undefined, 'and no identity without its user')
  }
}, {
  name: 'accounts (when offered): links decided by one statement: linked, already linked, linked elsewhere, provider taken, refused',
  async run (store) {
    const accounts = accountsOf(store)
    if (accounts === undefined) return
    const now = wholeSecond()
    const alice = await user(store, 'alice@example.com')
    const bob = await user(store, 'bob@example.com')
    assert.equal(await accounts.link(alice.id, identity('corp', 'a', now)), 'linked')
    assert.equal(await accounts.link(alice.id, identity('corp', 'a', now)), 'already_linked')
    assert.equal(await accounts.link(bob.id, identity('corp', 'a', now)), 'linked_elsewhere')
    assert.equal(await accounts.link(alice.id, identity('corp', 'a2', now)), 'provider_taken')
    assert.equal(await accounts.link(bob.id, identity('gh', 'b', now), 'bob@example.com'), 'refused', 'bob\'s address is not verified')
    await store.users.update(bob.id, { isVerified: true }, now)
    assert.equal(await accounts.link(bob.id, identity('gh', 'b', now), 'other@example.com'), 'refused', 'not bob\'s address')
    assert.equal(await accounts.link(bob.id, identity('gh', 'b', now), 'bob@example.com'), 'linked', 'his verified address')
    await store.users.update(alice.id, { isActive: false }, now)
    assert.equal(await accounts.link(alice.id, identity('gh', 'c', now)), 'refused', 'a deactivated user')
    assert.equal(await accounts.link('nobody', identity('gh', 'd', now)), 'refused', 'no such user')
    const outcomes = await Promise.all([bob.id, bob.id, alice.id].map(async (id) => accounts.link(id, identity('x', 'same', now))))
    assert.equal(outcomes.filter((o) => o === 'linked').length, 1, 'concurrent links of one identity: one is written')
  }
}, {
  name: 'accounts (when offered): unlinking keeps a way in; listing and sighting; kept tokens',
  async run (store) {
    const accounts = accountsOf(store)
    if (accounts === undefined) return
    const now = wholeSecond()
    const made = await accounts.createWithUser({ email: 'u@example.com', passwordHash: null }, { ...identity('corp', 's', now), tokens: 'sealed-1' })
    const id = made.user.id
    assert.equal(await accounts.unlink(id, 'corp'), 'last_sign_in_method')
    assert.equal(await accounts.unlink(id, 'gh'), 'not_linked')
    assert.equal(await accounts.link(id, identity('gh', 'g', new Date(now.getTime() + 1000))), 'linked')
    const both = await Promise.all([accounts.unlink(id, 'corp'), accounts.unlink(id, 'gh')])
    assert.deepEqual(both.filter((o) => o === 'unlinked').length, 1, 'two unlinks at once never leave the user with no way in')
    const [left] = await accounts.listForUser(id)
    assert.ok(left !== undefined)
    await accounts.sighted(left.id, { email: 'new@example.com', emailVerified: true, now: new Date(now.getTime() + HOUR) })
    assertFields((await accounts.listForUser(id))[0], { email: 'new@example.com', emailVerified: true, lastLoginAt: new Date(now.getTime() + HOUR) })
    const password = await store.users.create({ email: 'pw@example.com', passwordHash: 'hash' })
    assert.equal(await accounts.link(password.id, identity('corp', 'pw', now)), 'linked')
    assert.equal(await accounts.unlink(password.id, 'corp'), 'unlinked', 'a password is a way in')
    const kept = await accounts.findTokens(id, left.provider)
    assert.equal(kept?.accountId, left.id)
    await accounts.sighted(left.id, { email: null, emailVerified: false, tokens: 'sealed-2', now })
    assert.equal((await accounts.findTokens(id, left.provider))?.tokens, 'sealed-2')
  }
}, {
  name: 'accounts (when offered): a flow and its completion code are each consumed once, live, for their own provider and challenge',
  async run (store) {
    const accounts = accountsOf(store)
    if (accounts === undefined) return
    const now = wholeSecond()
    await accounts.beginFlow(flow('corp', 'state-1', now, 'challenge'))
    assert.equal(await accounts.consumeFlow('state-1', 'other', now), undefined, 'another provider\'s callback')
    const consumed = await Promise.all([1, 2, 3].map(async () => accounts.consumeFlow('state-1', 'corp', now)))
    const winner = consumed.find((c) => c !== undefined)
    assert.equal(consumed.filter((c) => c !== undefined).length, 1, 'one of three parallel callbacks')
    assertFields(winner, { provider: 'corp', codeVerifier: 'v'.repeat(43), nonce: 'n', redirectTo: 'https://app.example/', linkUserId: null, clientChallenge: 'challenge' })
    await accounts.beginFlow(flow('corp', 'state-2', now))
    assert.equal(await accounts.consumeFlow('state-2', 'corp', new Date(now.getTime() + 600_000)), undefined, 'expired at its end')
    await accounts.issueCode({ flowId: winner!.id, codeHash: 'code-1', userId: 'u1', accountId: 'a1', expiresAt: new Date(now.getTime() + 60_000) })
    assert.equal(await accounts.consumeCode('code-1', null, now), undefined, 'no verifier for a challenged code')
    assert.equal(await accounts.consumeCode('code-1', 'other', now), undefined, 'another challenge')
    assert.equal(await accounts.consumeCode('code-1', 'challenge', new Date(now.getTime() + 60_000)), undefined, 'expired')
    const codes = await Promise.all([1, 2].map(async () => accounts.consumeCode('code-1', 'challenge', now)))
    assert.deepEqual(codes.filter((c) => c !== undefined), [{ userId: 'u1', accountId: 'a1', provider: 'corp', profile: null }], 'once')
    await accounts.beginFlow(flow('corp', 'state-3', now))
    const linking = await accounts.consumeFlow('state-3', 'corp', now)
    await accounts.issueCode({ flowId: linking!.id, codeHash: 'code-2', userId: 'u2', accountId: null, profile: '{"subject":"s"}', expiresAt: new Date(now.getTime() + 60_000) })
    assert.deepEqual(await accounts.consumeCode('code-2', null, now), { userId: 'u2', accountId: null, provider: 'corp', profile: '{"subject":"s"}' }, 'a link\'s code carries its identity')
    assert.equal(await store.maintenance.purgeExpired(new Date(now.getTime() + 601_000)), 3, 'every flow is purged once ended')
  }
}]
