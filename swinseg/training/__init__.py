"""Training: the recipe's config (``config``), the loop as named steps (``loop``), losses (``losses``), the
optimizer and schedule (``optim``) and the data order / synchronised BatchNorm under torchrun
(``distributed``)."""
