// Leaving the app for another site (the OAuth client's redirect URI): a full navigation, never a
// fetch that would follow a cross-origin redirect. One object so that tests can watch it.
export const leave = {
  to (url: string): void {
    window.location.assign(url)
  },
}
