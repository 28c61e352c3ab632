// The transformer branch's view of a map: map → tokens, layer norm, linear projections,
// attention scores with softmax, weighted sum, tokens → map.
use hepaseg_core::{
    ops::{
        layer_norm, linear, map_to_tokens, matmul, matmul_at, matmul_bt, softmax, tokens_to_map,
        Axis, LN_EPS,
    },
    tensor::map_as_mat,
    Map, Mat, Tokens,
};

fn main() {
    let mut x: Map<4, 2, 3> = [[[0.0; 3]; 2]; 4];
    for (i, v) in x.iter_mut().flatten().flatten().enumerate() {
        *v = i as f32 * 0.1;
    }

    let mut t: Tokens<6, 4> = [[0.0; 4]; 6];
    map_to_tokens(&x, &mut t);
    assert_eq!(t[4][2], x[2][1][1]);
    let cols: &Mat<4, 6> = map_as_mat(&x);
    assert_eq!(cols[2][4], t[4][2]);

    layer_norm(&mut t, &[1.0; 4], &[0.0; 4], LN_EPS);

    let wq: Mat<8, 4> = [[0.1; 4]; 8];
    let mut q: Tokens<6, 8> = [[0.0; 8]; 6];
    linear(&t, &wq, Some(&[0.5; 8]), &mut q);

    let mut scores: Mat<6, 6> = [[0.0; 6]; 6];
    matmul_bt(&q, &q, &mut scores);
    softmax(&mut scores, Axis::Rows);
    let row_sum: f32 = scores[0].iter().sum();
    assert!((row_sum - 1.0).abs() < 1e-6);

    let mut attended: Tokens<6, 8> = [[0.0; 8]; 6];
    matmul(&scores, &q, &mut attended);
    let mut gram: Mat<8, 8> = [[0.0; 8]; 8];
    matmul_at(&attended, &attended, &mut gram);

    let wo: Mat<4, 8> = [[0.25; 8]; 4];
    let mut out: Tokens<6, 4> = [[0.0; 4]; 6];
    linear(&attended, &wo, None, &mut out);

    let mut back: Map<4, 2, 3> = [[[0.0; 3]; 2]; 4];
    tokens_to_map(&out, &mut back);
    assert_eq!(back[3][1][2], out[5][3]);
    assert!(gram[0][0] > 0.0);
}
