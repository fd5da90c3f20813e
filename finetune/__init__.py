"""Fine-tune multi-class BERT-family text classifiers (the models that `audit` inspects)."""
