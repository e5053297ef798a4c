"""The audit log (DESIGN 10): who wrote what, recorded in the transaction of the write."""
