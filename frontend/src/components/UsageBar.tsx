import { formatUse, usagePercent } from '../lib/format'

/** A labelled meter "used / limit"; unlimited limits show no fill. */
export function UsageBar ({ label, used, limit }: { label: string, used: number, limit: number }) {
  const pct = usagePercent(used, limit)
  const full = limit >= 0 && used >= limit
  return (
    <div className="usage">
      <div className="usage-head"><span>{label}</span><span data-testid={`usage-${label}`}>{formatUse(used, limit)}</span></div>
      <div
        className={`bar${full ? ' full' : ''}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={limit < 0 ? undefined : limit}
        aria-valuenow={used}
        aria-valuetext={formatUse(used, limit)}
      >
        <div className="fill" style={{ width: `${pct}%` }} />
      </div>
    </div>
  )
}
