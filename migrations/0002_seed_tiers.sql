-- Tiers are data (api.md §6). -1 means unlimited. SHADOW is hidden and shown as PAID.
INSERT INTO subscription_tiers
  (tier, public_name, max_agents, max_clients, max_oauth_per_period, price_cents, currency, billing, validity_days, is_hidden, sort_order)
VALUES
  ('FREE',    'FREE',     0,  0, 10,    0, 'USD', 'free',     NULL, 0, 0),
  ('BASIC',   'BASIC',    1, 10, -1,  500, 'USD', 'monthly',  NULL, 0, 1),
  ('PRO',     'PRO',      5, -1, -1, 1500, 'USD', 'monthly',  NULL, 0, 2),
  ('PREMIUM', 'PREMIUM', -1, -1, -1, 4900, 'USD', 'monthly',  NULL, 0, 3),
  ('SHADOW',  'PAID',     1, 10, -1, 1900, 'USD', 'one_time',   30, 1, 4);
