import { replicaSetOptions } from '../../src/infra/mongo-connection';

describe('replicaSetOptions', () => {
  it('asks for retryable, majority-acknowledged writes when MONGO_URL names a replica set', () => {
    const expected = { retryWrites: true, writeConcern: { w: 'majority' } };
    expect(replicaSetOptions('mongodb://a:27017,b:27017,c:27017/offboard?replicaSet=rs0')).toEqual(
      expected,
    );
    expect(
      replicaSetOptions('mongodb://u:p@a:27017/offboard?authSource=admin&replicaSet=rs0'),
    ).toEqual(expected);
  });

  it('adds nothing for a single server (the local FerretDB)', () => {
    expect(replicaSetOptions('mongodb://127.0.0.1:27017/offboard')).toEqual({});
    expect(replicaSetOptions('mongodb://127.0.0.1:27017/offboard?replicaSet=')).toEqual({});
  });
});
