import { render, screen } from '@testing-library/react'
import { UsageBar } from './UsageBar'

const fill = (meter: HTMLElement) => (meter.firstElementChild as HTMLElement).style.width
const attrs = (meter: HTMLElement) => Object.fromEntries(
  ['aria-valuetext', 'aria-valuenow', 'aria-valuemin', 'aria-valuemax'].map((a) => [a, meter.getAttribute(a)]),
)

describe('UsageBar', () => {
  it('is a labelled meter with the use as its value text', () => {
    render(<UsageBar label="Agents" used={1} limit={4} />)
    const meter = screen.getByRole('meter', { name: 'Agents' })
    expect(attrs(meter)).toEqual({ 'aria-valuetext': '1 / 4', 'aria-valuenow': '1', 'aria-valuemin': '0', 'aria-valuemax': '4' })
    expect(meter.classList.contains('full')).toBe(false)
    expect(fill(meter)).toBe('25%')
    expect(screen.getByTestId('usage-Agents').textContent).toBe('1 / 4')
  })

  it('is marked full at the limit', () => {
    render(<UsageBar label="Clients" used={5} limit={5} />)
    const meter = screen.getByRole('meter', { name: 'Clients' })
    expect(meter.getAttribute('aria-valuetext')).toBe('5 / 5')
    expect([...meter.classList]).toEqual(['bar', 'full'])
    expect(fill(meter)).toBe('100%')
  })

  it('is not full one below the limit', () => {
    render(<UsageBar label="Clients" used={4} limit={5} />)
    const meter = screen.getByRole('meter', { name: 'Clients' })
    expect([...meter.classList]).toEqual(['bar'])
    expect(fill(meter)).toBe('80%')
  })

  it('stays full, with the fill capped, over the limit', () => {
    render(<UsageBar label="Clients" used={7} limit={5} />)
    const meter = screen.getByRole('meter', { name: 'Clients' })
    expect(meter.getAttribute('aria-valuetext')).toBe('7 / 5')
    expect(meter.classList.contains('full')).toBe(true)
    expect(fill(meter)).toBe('100%')
  })

  it('shows an unlimited limit without a maximum or fill, never full', () => {
    render(<UsageBar label="OAuth grants" used={3} limit={-1} />)
    const meter = screen.getByRole('meter', { name: 'OAuth grants' })
    expect(attrs(meter)).toEqual({ 'aria-valuetext': '3 / unlimited', 'aria-valuenow': '3', 'aria-valuemin': '0', 'aria-valuemax': null })
    expect(meter.classList.contains('full')).toBe(false)
    expect(fill(meter)).toBe('0%')
  })
})
