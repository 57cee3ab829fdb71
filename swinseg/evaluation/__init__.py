"""Evaluation with mmsegmentation's semantics: the streaming confusion matrix and metrics (``metrics``), a
model on a dataset (``evaluate``), a folder of predictions against annotations (``score_folder``) and the
results file (``results_file``)."""
