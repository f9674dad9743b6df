// Client key pairs made in the browser with WebCrypto Ed25519. The private key never leaves the
// page except through the user's own download; the API only ever sees the public key.

export interface GeneratedKey {
  /** Raw 32-byte public key, unpadded base64url: the `public_key` the API expects (api.md 9.1). */
  publicKey: string
  /** PKCS#8 PEM of the private key. */
  privatePem: string
  /** Private JWK (OKP, Ed25519) with `d`, for JOSE libraries. */
  privateJwk: JsonWebKey
}

export function base64url (bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  let s = ''
  for (const byte of b) s += String.fromCharCode(byte)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function pem (label: string, der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)))
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** True when this browser's WebCrypto can make Ed25519 keys. */
export async function ed25519Supported (subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle): Promise<boolean> {
  if (!subtle) return false
  try {
    await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    return true
  } catch {
    return false
  }
}

export async function generateClientKey (subtle: SubtleCrypto = globalThis.crypto.subtle): Promise<GeneratedKey> {
  const pair = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']) as CryptoKeyPair
  const raw = await subtle.exportKey('raw', pair.publicKey)
  const pkcs8 = await subtle.exportKey('pkcs8', pair.privateKey)
  const jwk = await subtle.exportKey('jwk', pair.privateKey)
  return {
    publicKey: base64url(raw),
    privatePem: pem('PRIVATE KEY', pkcs8),
    privateJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d },
  }
}

/** Quick syntax check of a pasted key: 43 base64url characters (32 bytes). The server decides. */
export function looksLikePublicKey (text: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(text.trim())
}

/** The file offered for download once: everything a client needs to sign its assertions. */
export function keyFile (key: GeneratedKey, clientId: string | null): string {
  return JSON.stringify({
    client_id: clientId,
    alg: 'EdDSA',
    public_key: key.publicKey,
    private_jwk: { ...key.privateJwk, ...(clientId ? { kid: clientId } : {}) },
    private_key_pem: key.privatePem,
  }, null, 2) + '\n'
}
