"""What every blueprint shares: users and tokens, the bank-scope and role checks, error bodies."""
