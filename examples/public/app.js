// The browser side of the example: same-origin fetches, the cookies travel by themselves.
const $ = (id) => document.getElementById(id)

function post (path, body) {
  return fetch(path, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
}

// The access cookie lives minutes; when it is gone, the refresh cookie (sent only to /refresh) renews both.
async function withRefresh (request) {
  const res = await request()
  if (res.status !== 401) return res
  const refreshed = await post('/refresh')
  return refreshed.ok ? request() : res
}

async function show () {
  const res = await withRefresh(() => fetch('/me'))
  const signedIn = res.ok
  $('profile').hidden = !signedIn
  $('signed-out').hidden = signedIn
  if (signedIn) {
    const user = await res.json()
    $('email').textContent = user.email
    $('verified').textContent = user.is_verified ? 'yes' : 'no'
  }
  $('security').hidden = !signedIn
  if (signedIn) await showSessions()
}

// The live sessions, newest first; each but this one can be ended.
async function showSessions () {
  const res = await withRefresh(() => fetch('/sessions'))
  if (!res.ok) return
  const list = $('sessions')
  list.replaceChildren()
  for (const session of await res.json()) {
    const item = document.createElement('li')
    const since = new Date(session.created_at).toLocaleString()
    item.textContent = `${session.user_agent ?? 'unknown browser'} from ${session.ip ?? 'an unknown address'}, since ${since}${session.current ? ' (this one)' : ''} `
    if (!session.current) {
      const end = document.createElement('button')
      end.type = 'button'
      end.textContent = 'End'
      end.addEventListener('click', async () => {
        await withRefresh(() => fetch(`/sessions/${encodeURIComponent(session.id)}`, { method: 'DELETE' }))
        await showSessions()
      })
      item.append(end)
    }
    list.append(item)
  }
}

function fields (form) {
  return { email: form.email.value, password: form.password.value }
}

// Only a path of this site: never an open redirect.
function nextPage () {
  const next = new URLSearchParams(location.search).get('next')
  return next !== null && /^\/(?![/\\])/.test(next) ? next : null
}

$('register').addEventListener('submit', async (event) => {
  event.preventDefault()
  const res = await post('/register', fields(event.target))
  $('status').textContent = res.ok ? 'Registered: you can log in.' : `Registration failed: ${(await res.json()).detail}`
})

$('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const res = await post('/login', fields(event.target))
  if (!res.ok) {
    $('status').textContent = `Login failed: ${(await res.json()).detail}`
    return
  }
  $('status').textContent = ''
  const next = nextPage()
  if (next !== null) location.assign(next)
  else await show()
})

$('end-others').addEventListener('click', async () => {
  const res = await withRefresh(() => fetch('/sessions', { method: 'DELETE' }))
  $('status').textContent = res.ok ? `Ended ${(await res.json()).revoked} other session(s).` : 'Could not end the other sessions.'
  await showSessions()
})

// Provider sign-in is a plain navigation: the server answers with the provider's page, and the provider sends
// the browser back here with the session in HttpOnly cookies (or `#error=<code>` when it did not work out).
const PROVIDER_ERRORS = {
  access_denied: 'The sign-in was cancelled at the provider.',
  account_exists: 'An account with this email exists: log in with its password, then link the provider.',
  account_linked_elsewhere: 'That provider account is linked to another user.',
  email_unavailable: 'The provider gave no verified email address.',
  provider_unavailable: 'The provider cannot be reached right now: try again shortly.'
}

async function showProviders () {
  const res = await fetch('/oauth/providers')
  const providers = res.ok ? await res.json() : []
  $('providers').hidden = providers.length === 0
  $('provider-buttons').replaceChildren(...providers.map(({ name, label }) => {
    const link = document.createElement('a')
    link.href = `/oauth/${encodeURIComponent(name)}?redirectTo=/`
    link.textContent = `Sign in with ${label}`
    link.className = 'provider'
    return link
  }))
  const error = new URLSearchParams(location.hash.slice(1)).get('error')
  if (error !== null) {
    $('status').textContent = PROVIDER_ERRORS[error] ?? `Provider sign-in failed (${error}).`
    history.replaceState(null, '', location.pathname)
  }
}

$('logout').addEventListener('click', async () => {
  await withRefresh(() => post('/logout'))
  $('status').textContent = 'Logged out.'
  await show()
})

show()
showProviders()
