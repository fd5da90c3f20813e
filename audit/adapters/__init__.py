"""Model adapters, one kind per module (``core.classifier.Adapter`` subclasses, registered in ``audit/models.py``):
``huggingface`` (Hugging Face sequence classifiers), ``callables`` (any Python function), ``vader`` (VADER)."""
