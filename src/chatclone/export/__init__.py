"""`chatclone export`: a local run's clone in the forms the usual runtimes load (a merged
transformers folder, an Ollama Modelfile folder, a GGUF file for llama.cpp, a LoRA adapter and
command for vLLM), each checked before it is written. `registry.FORMATS` names them."""
