"""plan_batches: images of equal network size go together, at most batch_size, in order; some go alone."""

from swinseg.predict.plan import plan_batches


def test_equal_sizes_are_batched_in_order_of_their_first_image():
    sizes = [(64, 96), (32, 32), (64, 96), (64, 96), (32, 32), (64, 96), (128, 128)]
    assert plan_batches(sizes, 2, alone=lambda s: False) == [[0, 2], [1, 4], [3, 5], [6]]
    assert plan_batches(sizes, 3, alone=lambda s: False) == [[0, 2, 3], [1, 4], [5], [6]]


def test_images_that_go_alone_are_batches_of_one():
    sizes = [(64, 96), (256, 256), (64, 96), (256, 256)]
    assert plan_batches(sizes, 4, alone=lambda s: s[0] > 128) == [[0, 2], [1], [3]]
