"""What every layer shares and nothing in swinseg below it: atomic writes, config-key checks, error messages,
memory budgets, JSON values and the process / device this run is on. Imports no other swinseg package."""
