"""The Keras side of the `keras-parity` benchmark: the tutorial's own pipeline, timed.

ImageDataGenerator (rescale 1/255, shear 0.2, zoom 0.2, horizontal flip) with
flow_from_directory, the attention CNN (3,305,318 parameters at 128x128 with 5 classes),
Adam 1e-3, categorical cross-entropy and the tutorial's three callbacks, trained with
model.fit. Prints one JSON object on the last line of stdout with the per-epoch figures.

Run by bench/keras-parity.ts inside the virtualenv it creates; usable alone:

    python bench/keras_tutorial.py --data /work/shared/datasets/flowers --epochs 3
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train/ and val/ class folders")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument(
        "--threads", type=int, default=0, help="intra- and inter-op threads; 0: TF's choice"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--synthetic-steps",
        type=int,
        default=0,
        help="instead of fit: time this many train_on_batch calls on one random batch",
    )
    return parser.parse_args()


def build_model(keras, image_size, class_count):
    """Three conv blocks, a sigmoid attention map after the first, dense head."""
    layers = keras.layers
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    features = inputs

    for block, (filters, rate) in enumerate([(32, 0.1), (64, 0.1), (128, 0.25)], start=1):
        features = layers.Conv2D(filters, 3, activation="relu", name=f"block{block}_conv")(features)
        features = layers.MaxPooling2D(2, name=f"block{block}_pool")(features)
        features = layers.Dropout(rate, name=f"block{block}_dropout")(features)
        if block == 1:
            attention = layers.Conv2D(1, 1, activation="sigmoid", name="block1_attention")(features)
            features = layers.Multiply(name="block1_attention_apply")([features, attention])

    flat = layers.Flatten(name="flatten")(features)
    hidden = layers.Dense(128, activation="relu", name="dense")(flat)
    dropped = layers.Dropout(0.5, name="dense_dropout")(hidden)
    outputs = layers.Dense(class_count, activation="softmax", name="classifier")(dropped)
    return keras.Model(inputs, outputs, name="attention_cnn")


def time_steps(keras, np, args):
    """Milliseconds per training step on one random batch, after three warm-up steps."""
    model = build_model(keras, args.image_size, 5)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    random = np.random.default_rng(args.seed)
    images = random.random((args.batch_size, args.image_size, args.image_size, 3), "float32")
    labels = np.eye(5, dtype="float32")[random.integers(0, 5, args.batch_size)]

    for _ in range(3):
        model.train_on_batch(images, labels)
    step_ms = []
    for _ in range(args.synthetic_steps):
        begin = time.perf_counter()
        model.train_on_batch(images, labels)
        step_ms.append((time.perf_counter() - begin) * 1000)
    return {"parameters": model.count_params(), "step_ms": step_ms}


def main():
    args = parse_args()
    if args.threads > 0:
        # Read by TensorFlow when it starts, as our trainer's child process gets them.
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import tensorflow as tf
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    keras = tf.keras
    if args.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    if args.synthetic_steps > 0:
        import numpy as np

        result = time_steps(keras, np, args)
        print(json.dumps({"tensorflow": tf.__version__, "keras": keras.__version__, **result}))
        return

    started = time.perf_counter()
    size = (args.image_size, args.image_size)
    train_gen = ImageDataGenerator(
        rescale=1.0 / 255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True
    )
    val_gen = ImageDataGenerator(rescale=1.0 / 255)
    train = train_gen.flow_from_directory(
        os.path.join(args.data, "train"),
        target_size=size,
        batch_size=args.batch_size,
        class_mode="categorical",
        seed=args.seed,
    )
    val = val_gen.flow_from_directory(
        os.path.join(args.data, "val"),
        target_size=size,
        batch_size=args.batch_size,
        class_mode="categorical",
        shuffle=False,
    )

    model = build_model(keras, args.image_size, train.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    setup_seconds = time.perf_counter() - started

    class EpochTimer(keras.callbacks.Callback):
        """Wall time of each epoch, and of its training part (before validation starts)."""

        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()
            self.train_end = None

        def on_test_begin(self, logs=None):
            if self.train_end is None:
                self.train_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            train_seconds = (self.train_end or end) - self.begin
            self.epochs.append(
                {
                    "epoch": epoch + 1,
                    "epoch_seconds": end - self.begin,
                    "train_seconds": train_seconds,
                    "images_per_second": train.samples / train_seconds,
                    "loss": float(logs["loss"]),
                    "accuracy": float(logs["accuracy"]),
                    "val_loss": float(logs["val_loss"]),
                    "val_accuracy": float(logs["val_accuracy"]),
                }
            )

    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as folder:
        callbacks = [
            timer,
            keras.callbacks.ModelCheckpoint(
                os.path.join(folder, "best.keras"), monitor="val_accuracy", save_best_only=True
            ),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5),
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=15, restore_best_weights=True
            ),
        ]
        model.fit(train, epochs=args.epochs, validation_data=val, callbacks=callbacks, verbose=0)

    result = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": sys.version.split()[0],
        "parameters": model.count_params(),
        "train_images": train.samples,
        "val_images": val.samples,
        "threads": args.threads,
        "setup_seconds": setup_seconds,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_seconds": time.process_time(),
        "epochs": timer.epochs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
