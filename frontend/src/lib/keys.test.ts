/// <reference types="node" />
// Real WebCrypto and real node:crypto on the other side: nothing here is mocked.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { base64url, ed25519Supported, generateClientKey, keyFile, looksLikePublicKey } from './keys'

const B64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/
const rawPublicKey = (x: string) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })

describe('generateClientKey (real Ed25519 via WebCrypto)', () => {
  it('is supported by this runtime', async () => {
    expect(await ed25519Supported()).toBe(true)
  })

  it('gives the raw 32-byte public key as unpadded base64url', async () => {
    const key = await generateClientKey()
    expect(key.publicKey).toMatch(B64URL_32_BYTES)
    expect(Buffer.from(key.publicKey, 'base64url')).toHaveLength(32)
    expect(looksLikePublicKey(key.publicKey)).toBe(true)
  })

  it('gives a PKCS#8 PEM private key that signs what the raw public key verifies', async () => {
    const key = await generateClientKey()
    expect(key.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/)

    const privateKey = createPrivateKey(key.privatePem)
    expect(privateKey.asymmetricKeyType).toBe('ed25519')

    const message = Buffer.from('client assertion for agent-id')
    const signature = sign(null, message, privateKey)
    const publicKey = rawPublicKey(key.publicKey)
    expect(verify(null, message, publicKey, signature)).toBe(true)
    expect(verify(null, Buffer.from('another message'), publicKey, signature)).toBe(false)

    // The PEM's own public half is the advertised public key.
    expect(createPublicKey(privateKey).export({ format: 'jwk' }).x).toBe(key.publicKey)
  })

  it('gives a private JWK for the same key pair', async () => {
    const key = await generateClientKey()
    expect(key.privateJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: key.publicKey, d: expect.stringMatching(B64URL_32_BYTES) })
    // The JWK's d is the PEM's private scalar, and the JWK alone signs verifiably.
    expect(key.privateJwk.d).toBe(createPrivateKey(key.privatePem).export({ format: 'jwk' }).d)
    const jwkKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.privateJwk.x!, d: key.privateJwk.d! }, format: 'jwk' })
    const message = Buffer.from('signed with the JWK')
    expect(verify(null, message, rawPublicKey(key.publicKey), sign(null, message, jwkKey))).toBe(true)
  })

  it('makes a new key pair every time', async () => {
    const [a, b] = await Promise.all([generateClientKey(), generateClientKey()])
    expect(a.publicKey).not.toBe(b.publicKey)
    expect(a.privatePem).not.toBe(b.privatePem)
    expect(a.privateJwk.d).not.toBe(b.privateJwk.d)
  })
})

describe('keyFile', () => {
  it('holds everything a client needs, with the client id as kid', async () => {
    const key = await generateClientKey()
    const text = keyFile(key, 'cl_123')
    expect(text.endsWith('\n')).toBe(true)
    expect(JSON.parse(text)).toEqual({
      client_id: 'cl_123',
      alg: 'EdDSA',
      public_key: key.publicKey,
      private_jwk: { ...key.privateJwk, kid: 'cl_123' },
      private_key_pem: key.privatePem,
    })
  })

  it('has no kid before the client id is known', async () => {
    const key = await generateClientKey()
    const file = JSON.parse(keyFile(key, null)) as { client_id: unknown, private_jwk: Record<string, unknown> }
    expect(file.client_id).toBeNull()
    expect(file.private_jwk).not.toHaveProperty('kid')
  })
})

describe('base64url', () => {
  it('is unpadded and URL-safe', () => {
    expect(base64url(new Uint8Array([0xfb, 0xff]))).toBe('-_8')
    expect(base64url(new Uint8Array([0xff, 0xfe, 0xfd]).buffer)).toBe('__79')
    const bytes = new Uint8Array(32).map((_, i) => i * 7)
    expect(base64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'))
  })
})

describe('looksLikePublicKey', () => {
  const good = 'A'.repeat(42) + 'Q' // 43 base64url characters

  it('accepts 43 base64url characters, ignoring surrounding space', () => {
    expect(looksLikePublicKey(good)).toBe(true)
    expect(looksLikePublicKey(`  ${good}\n`)).toBe(true)
    expect(looksLikePublicKey('abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE')).toBe(true)
  })

  it.each([
    ['too short', 'A'.repeat(42)],
    ['too long', 'A'.repeat(44)],
    ['padded', 'A'.repeat(43) + '='],
    ['standard base64 +', 'A'.repeat(42) + '+'],
    ['standard base64 /', 'A'.repeat(42) + '/'],
    ['a PEM', '-----BEGIN PUBLIC KEY-----'],
    ['empty', ''],
  ])('rejects %s', (_, text) => {
    expect(looksLikePublicKey(text)).toBe(false)
  })
})
