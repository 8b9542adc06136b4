// What the emailed links open: /verify, /reset and /confirm-email, each with #token=… (a fragment: the
// browser never sends it, so the token is in no server log).
const $ = (id) => document.getElementById(id)
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''
// The token leaves the address bar (and the history) at once.
history.replaceState(null, '', location.pathname)

const ACTIONS = {
  '/verify': { title: 'Confirm your email address', path: '/verify-email', body: () => ({ token }) },
  '/reset': { title: 'Choose a new password', path: '/password/reset', body: (form) => ({ token, new_password: form.new_password.value }), password: true },
  '/confirm-email': { title: 'Confirm your new email address', path: '/email/confirm', body: () => ({ token }) }
}
const action = ACTIONS[location.pathname]
$('title').textContent = action?.title ?? 'Unknown link'
$('password-field').hidden = action?.password !== true
$('form').addEventListener('submit', async (event) => {
  event.preventDefault()
  if (action === undefined) return
  const res = await fetch(action.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(action.body(event.target)) })
  const body = await res.json()
  $('result').textContent = body.detail
  if (res.ok) $('submit').disabled = true
})
