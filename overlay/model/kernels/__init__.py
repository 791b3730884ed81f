"""The compiled decode engine: C sources (``csrc``) built for this CPU with the one-row
product (``gemv``), and the whole Llama step in one C call per token (``cstep``). Loading
and running the model live one folder up; only they reach in here."""
