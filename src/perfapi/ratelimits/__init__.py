"""Rate limits per caller and per webhook source, in this process or shared through Redis."""
